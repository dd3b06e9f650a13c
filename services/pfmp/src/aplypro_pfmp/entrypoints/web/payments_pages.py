"""The establishment's payments page (features.md §2, "Payments page: blocked, rejected and failed requests
with their reasons"): every PFMP of the school year whose latest payment request is Bloquée, Demande rejetée or
Paiement échoué, each reason in French with what to do, and a link to the student page where the director
relaunches or retries. Read from pfmp's projection of the calculator's and gateway's events; any staff of the
establishment (staff of another one: 404)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated
from uuid import UUID

from aplypro_servicekit.db import Connection
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from aplypro_pfmp.adapters import payments_sql

from .money_view import REQUEST_STATES
from .reason_words import Words, words
from .rendering import render
from .school_year import chosen_year
from .security import User, current_user, staff_of

Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]


@dataclass(frozen=True)
class TroubledRequest:
    payment_request_id: UUID
    pfmp_id: UUID
    student_id: UUID
    last_name: str
    first_names: list[str]
    class_label: str | None
    start_date: date
    end_date: date
    state: str
    label: str  # features.md §3
    badge: str
    amount_cents: int | None
    reasons: list[tuple[str, Words]]


async def troubled(conn: Connection, uai: str, year: int) -> list[TroubledRequest]:
    out = []
    for r in await payments_sql.troubled_of_establishment(conn, uai, year):
        label, badge = REQUEST_STATES[r.state]
        out.append(TroubledRequest(r.payment_request_id, r.pfmp_id, r.student_id,
                                   r.last_name, r.first_names, r.class_label, r.start_date, r.end_date,
                                   r.state, label, badge, r.amount_cents,
                                   [(key, words(key, r.state)) for key in r.reasons]))
    return out


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/etablissements/{uai}/paiements", name="payments_page")
    async def payments(request: Request, uai: Uai, user: CurrentUser, annee: int | None = None) -> Response:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            years, year = await chosen_year(request, conn, uai, annee)
            rows = [] if year is None else await troubled(conn, uai, year)
        return render(request, "payments.html", {"title": f"Paiements à traiter — {uai}", "uai": uai,
                                                 "years": years, "year": year, "rows": rows})

    return router
