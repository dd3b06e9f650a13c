"""Enter or replace a student's RIB, and bulk RIB entry for a class (any staff of the establishment).

RIBs belong to the students service: the page calls its internal API (students_api), and the page after the
POST shows the new RIB from that answer at once; pfmp's own RibOnFile fact catches up through the events.
The form is answered directly, not redirected: the holder name and the refused values must not travel in the
(signed, readable) session cookie. Never logged, never in a URL: IBAN, BIC, holder name.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import Response

from aplypro_pfmp.adapters import web_sql, web_students_sql

from .rendering import render
from .rib_labels import OWNER_TYPES, rib_error
from .security import User, current_user, staff_of
from .students_api import Rib, RibsRefused, StudentsApiUnavailable, current_rib, enter_ribs

log = structlog.get_logger(__name__)
Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]
FIELDS = ("owner_type", "holder_name", "iban", "bic")


def _entry(student_id: UUID, values: dict[str, str]) -> dict[str, str]:
    return {"student_id": str(student_id), **{f: values.get(f, "") for f in FIELDS}}


def _local_refusals(entries: list[dict[str, str]]) -> dict[int, dict[str, str]]:
    """What the page can refuse without asking: an owner type that is not one of the four."""
    return {line: {"owner_type": rib_error("owner_type.invalid")}
            for line, e in enumerate(entries, start=1) if e["owner_type"] not in OWNER_TYPES}


async def _send(request: Request, uai: str, user: User,
                entries: list[dict[str, str]]) -> tuple[list[Rib], dict[int, dict[str, str]], str | None]:
    """(new RIBs, refusals by line and field, a page-wide error)."""
    if refused := _local_refusals(entries):
        return [], refused, None
    try:
        ribs = await enter_ribs(request.app.state.web_settings, uai, user.user_id, entries)
    except RibsRefused as exc:
        by_line: dict[int, dict[str, str]] = {}
        for r in exc.refusals:
            by_line.setdefault(r.line, {})[r.column] = rib_error(r.code)
        log.info("ribs_refused", entries=len(entries), codes=sorted({r.code for r in exc.refusals}))
        return [], by_line, None
    except StudentsApiUnavailable as exc:
        return [], {}, rib_error(exc.code)
    log.info("ribs_entered", entries=len(entries))
    return ribs, {}, None


def build_router() -> APIRouter:
    router = APIRouter()
    student_path = "/etablissements/{uai}/eleves/{student_id}/coordonnees-bancaires"
    class_path = "/etablissements/{uai}/annees/{year}/classes/{label}/coordonnees-bancaires"

    async def _student(request: Request, uai: str, student_id: UUID, user: User) -> web_sql.StudentPage:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            student = await web_sql.student(conn, uai, student_id)
        if student is None:
            raise HTTPException(404)
        return student

    def _page(request: Request, uai: str, student: web_sql.StudentPage, **context: object) -> Response:
        status = 422 if context.get("errors") else 503 if context.get("failure") else 200
        return render(request, "rib.html", {"title": f"Coordonnées bancaires — {student.last_name}", "uai": uai,
                                            "student": student, "owner_types": OWNER_TYPES, "values": {},
                                            "errors": {}, **context}, status_code=status)

    @router.get(student_path, name="rib_page")
    async def rib_page(request: Request, uai: Uai, student_id: UUID, user: CurrentUser) -> Response:
        student = await _student(request, uai, student_id, user)
        try:
            rib = await current_rib(request.app.state.web_settings, uai, student_id)
        except StudentsApiUnavailable as exc:
            return _page(request, uai, student, rib=None, unknown=True, notice=rib_error(exc.code))
        return _page(request, uai, student, rib=rib)

    @router.post(student_path, name="enter_rib")
    async def enter(request: Request, uai: Uai, student_id: UUID, user: CurrentUser) -> Response:
        student = await _student(request, uai, student_id, user)
        form = await request.form()
        values = {f: str(form.get(f) or "") for f in FIELDS}
        ribs, refused, failure = await _send(request, uai, user, [_entry(student_id, values)])
        if refused or failure:
            return _page(request, uai, student, rib=None, values=values, errors=refused.get(1, {}), failure=failure)
        return _page(request, uai, student, rib=ribs[0] if ribs else None,
                     success="Les coordonnées bancaires sont enregistrées.")

    async def _lines(request: Request, uai: str, year: int, label: str,
                     user: User) -> list[web_students_sql.RibLine]:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            lines = await web_students_sql.class_rib_lines(conn, uai, year, label)
        if not lines:
            raise HTTPException(404)
        return lines

    def _bulk(request: Request, uai: str, year: int, label: str, lines: list[web_students_sql.RibLine],
              **context: object) -> Response:
        status = 422 if context.get("errors") else 503 if context.get("failure") else 200
        return render(request, "ribs_bulk.html", {
            "title": f"Coordonnées bancaires — classe {label}", "uai": uai, "year": year, "label": label,
            "lines": lines, "owner_types": OWNER_TYPES, "values": {}, "errors": {}, "entered": {}, **context},
            status_code=status)

    @router.get(class_path, name="bulk_ribs_page")
    async def bulk_page(request: Request, uai: Uai, year: int, label: str, user: CurrentUser) -> Response:
        return _bulk(request, uai, year, label, await _lines(request, uai, year, label, user))

    @router.post(class_path, name="enter_bulk_ribs")
    async def bulk(request: Request, uai: Uai, year: int, label: str, user: CurrentUser) -> Response:
        lines = await _lines(request, uai, year, label, user)
        of_class = {line.student_id for line in lines}
        form = await request.form()
        values: dict[UUID, dict[str, str]] = {}
        for key, value in form.multi_items():
            field, _, raw_id = key.partition("-")  # owner_type-<uuid>: field names have no hyphen
            if field not in FIELDS or not isinstance(value, str):
                continue
            try:
                student_id = UUID(raw_id)
            except ValueError:
                raise HTTPException(404) from None
            if student_id not in of_class:  # a student of another class or establishment: not on this page
                raise HTTPException(404)
            values.setdefault(student_id, {})[field] = value
        # A line is sent when anything but the owner type (pre-selected) is typed in it
        filled = [(sid, v) for sid, v in values.items() if any(v.get(f, "").strip() for f in FIELDS[1:])]
        if not filled:
            return _bulk(request, uai, year, label, lines, failure="Saisissez au moins une ligne.")
        entries = [_entry(sid, v) for sid, v in filled]
        ribs, refused, failure = await _send(request, uai, user, entries)
        if refused or failure:
            errors = {filled[line - 1][0]: fields for line, fields in refused.items()}
            return _bulk(request, uai, year, label, lines, values=values, errors=errors, failure=failure)
        entered = {rib.student_id: rib for rib in ribs}
        return _bulk(request, uai, year, label, lines, entered=entered,
                     success=f"{len(entered)} coordonnée(s) bancaire(s) enregistrée(s).")

    return router
