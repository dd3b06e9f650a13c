"""Bulk day counts of a class's PFMP (same dates): one input per student, all or nothing, each through
pfmp's edit_pfmp (audited). Validated PFMPs are shown, not editable here (their change moves money: the
PFMP's own edit page, confirmed director only)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Annotated
from uuid import UUID

import structlog
from aplypro_contracts.topics import PFMP_EVENTS
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import web_sql
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.lifecycle import EditPfmp, edit_pfmp

from .labels import error_message
from .rendering import flash, render
from .security import User, current_user, staff_of

log = structlog.get_logger(__name__)
Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]
EDITABLE = frozenset({"pending", "completed"})


class _Undo(Exception):
    """One refused line: the whole batch is rolled back."""


def build_router() -> APIRouter:
    router = APIRouter()
    base = "/etablissements/{uai}/annees/{year}/classes/{label}/periodes/{start}/{end}"

    async def _rows(request: Request, uai: str, year: int, label: str, start: date,
                    end: date) -> list[web_sql.DayCountRow]:
        async with request.app.state.pool.acquire() as conn:
            rows = await web_sql.period_pfmps(conn, uai, year, label, start, end)
        if not rows:
            raise HTTPException(404)
        return rows

    @router.get(base, name="day_counts_page")
    async def page(request: Request, uai: Uai, year: int, label: str, start: date, end: date,
                   user: CurrentUser) -> Response:
        staff_of(user, uai)
        rows = await _rows(request, uai, year, label, start, end)
        return render(request, "day_counts.html", {"title": f"Jours de PFMP — {label}", "uai": uai, "year": year,
                                                   "label": label, "start": start, "end": end, "rows": rows,
                                                   "editable": EDITABLE})

    @router.post(base, name="set_day_counts")
    async def submit(request: Request, uai: Uai, year: int, label: str, start: date, end: date,
                     user: CurrentUser) -> Response:
        staff_of(user, uai)
        rows = {r.pfmp_id: r for r in await _rows(request, uai, year, label, start, end)}
        again = RedirectResponse(request.url_for("day_counts_page", uai=uai, year=year, label=label,
                                                 start=start, end=end), status_code=303)
        form = await request.form()
        wanted: dict[UUID, int | None] = {}
        try:
            for key, value in form.multi_items():
                if not key.startswith("days-") or not isinstance(value, str):
                    continue
                pfmp_id = UUID(key.removeprefix("days-"))
                if pfmp_id not in rows:  # a PFMP of another class or establishment: not on this page
                    raise HTTPException(404)
                if rows[pfmp_id].status in EDITABLE:
                    wanted[pfmp_id] = int(value) if value.strip() else None
        except ValueError:
            flash(request, "error", error_message("invalid_form"))
            return again
        refused: Counter[str] = Counter()
        edited = 0
        topic = request.app.state.pfmp_settings.topic(PFMP_EVENTS)
        async with request.app.state.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    for pfmp_id, days in wanted.items():
                        if days == rows[pfmp_id].day_count:
                            continue
                        try:
                            async with conn.transaction():  # a savepoint: every line checked, then all or nothing
                                await edit_pfmp(conn, EditPfmp(pfmp_id, user.user_id, day_count=days,
                                                               clear_day_count=days is None), topic=topic)
                            edited += 1
                        except PfmpError as exc:
                            refused[exc.code] += 1
                    if refused:
                        raise _Undo
            except _Undo:
                reasons = " ".join(f"{n} élève(s) : {error_message(code)}" for code, n in refused.items())
                flash(request, "error", f"Rien n'a été enregistré. {reasons}")
                return again
        log.info("day_counts_set", edited=edited)
        flash(request, "success", f"Jours enregistrés pour {edited} élève(s).")
        return RedirectResponse(request.url_for("class_page", uai=uai, year=year, label=label), status_code=303)

    return router
