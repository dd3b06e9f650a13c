"""The dashboard of an establishment's school year (DA, RIB, PFMP and payment panels) and its classes with
counters: live counts of pfmp's projection at each request (features.md §4), never a snapshot."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from aplypro_pfmp.adapters import dashboard_sql

from .pages import today
from .rendering import render
from .school_year import chosen_year
from .security import User, current_user, staff_of

Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]

# Payment request states as schools see them (features.md §3), in the order of the panel.
PAYMENT_STATES = (
    ("En attente", ("pending", "ready")),
    ("Bloquée", ("incomplete",)),
    ("En traitement", ("sent", "integrated")),
    ("Demande rejetée", ("rejected",)),
    ("Paiement envoyé", ("paid",)),
    ("Paiement échoué", ("unpaid",)),
)


def ratio(part: int, whole: int) -> str:
    """features.md §4: a zero denominator shows as 0."""
    return "0 %" if whole == 0 else f"{round(100 * part / whole)} %"


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/etablissements/{uai}/tableau-de-bord", name="dashboard")
    async def dashboard(request: Request, uai: Uai, user: CurrentUser, annee: int | None = None) -> Response:
        staff_of(user, uai)
        day = today()
        async with request.app.state.pool.acquire() as conn:
            years, year = await chosen_year(request, conn, uai, annee)
            counts = classes = states = None
            if year is not None:
                counts = await dashboard_sql.totals(conn, uai, year, day)
                classes = await dashboard_sql.classes(conn, uai, year, day)
                states = await dashboard_sql.request_states(conn, uai, year, day)
        payments = [(label, sum((states or {}).get(k, 0) for k in keys)) for label, keys in PAYMENT_STATES]
        return render(request, "dashboard.html", {
            "title": f"Tableau de bord — {uai}", "uai": uai, "years": years, "year": year, "counts": counts,
            "classes": classes, "payments": payments, "ratio": ratio})

    return router
