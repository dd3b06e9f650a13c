"""Client of the students service's internal API (httpx): RIBs belong to that service, so the web application
enters them there, with the user's id for its audit trail. Nothing of the request or answer is logged beyond
counts and codes; the bank data travels in bodies only, and comes back masked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx2
import structlog

from .settings import WebSettings

log = structlog.get_logger(__name__)


class StudentsApiUnavailable(RuntimeError):
    """The students service did not answer as expected: the page says to try again, nothing is recorded."""

    code = "students_api_unavailable"


@dataclass(frozen=True)
class Refusal:
    line: int  # 1-based position of the entry in the request
    column: str  # owner_type, holder_name, iban, bic, student_id, ine
    code: str  # the students service's stable key, e.g. iban.checksum


class RibsRefused(ValueError):
    """At least one entry refused: nothing was recorded."""

    code = "ribs_refused"

    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__(", ".join(r.code for r in refusals))
        self.refusals = refusals


@dataclass(frozen=True)
class Rib:
    """A student's active RIB as the students service shows it (IBAN masked)."""

    rib_id: UUID
    student_id: UUID
    owner_type: str
    holder_name: str
    iban_masked: str
    bic: str
    version: int
    recorded_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, data: dict[str, Any]) -> Rib:
        return cls(UUID(data["rib_id"]), UUID(data["student_id"]), data["owner_type"], data["holder_name"],
                   data["iban_masked"], data["bic"], int(data["version"]), data.get("recorded_by"),
                   datetime.fromisoformat(data["created_at"]))


def _client(settings: WebSettings) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(base_url=settings.students_api_url.rstrip("/"), timeout=settings.students_api_timeout_s,
                              headers={"Authorization": f"Bearer {settings.students_api_token.get_secret_value()}"})


async def current_rib(settings: WebSettings, uai: str, student_id: UUID) -> Rib | None:
    try:
        async with _client(settings) as client:
            answer = await client.get(f"/internal/v1/etablissements/{uai}/eleves/{student_id}/rib")
    except httpx2.HTTPError as exc:
        log.warning("students_api_unreachable", error=type(exc).__name__)
        raise StudentsApiUnavailable from None
    if answer.status_code == 404:
        return None
    if answer.status_code != 200:
        log.warning("students_api_error", status=answer.status_code)
        raise StudentsApiUnavailable
    return Rib.of(answer.json())


async def enter_ribs(settings: WebSettings, uai: str, user_id: str, entries: list[dict[str, str]]) -> list[Rib]:
    """Each entry: student_id, owner_type, holder_name, iban, bic. Returns the students' new active RIBs."""
    try:
        async with _client(settings) as client:
            answer = await client.post(f"/internal/v1/etablissements/{uai}/ribs",
                                       json={"recorded_by": user_id, "ribs": entries})
    except httpx2.HTTPError as exc:
        log.warning("students_api_unreachable", error=type(exc).__name__)
        raise StudentsApiUnavailable from None
    if answer.status_code == 422:
        errors = answer.json().get("errors", [])
        if errors and all("line" in e for e in errors):  # refused entries (else a malformed request: a bug)
            raise RibsRefused([Refusal(int(e["line"]), str(e["column"]), str(e["code"])) for e in errors])
    if answer.status_code != 200:
        log.warning("students_api_error", status=answer.status_code)
        raise StudentsApiUnavailable
    return [Rib.of(r) for r in answer.json()["ribs"]]


class HideRefused(ValueError):
    """The students service refused the change (`code`: schooling.other_open)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class HiddenState:
    schooling_id: UUID
    hidden: bool
    version: int  # SchoolingHiddenChanged's: pfmp applies the answer at once, the event later is a no-op
    changed: bool


async def set_hidden(settings: WebSettings, uai: str, schooling_id: UUID, hidden: bool,
                     user_id: str) -> HiddenState | None:
    """None: no such schooling in this establishment at the students service."""
    try:
        async with _client(settings) as client:
            answer = await client.put(f"/internal/v1/etablissements/{uai}/scolarites/{schooling_id}/masquage",
                                      json={"hidden": hidden, "recorded_by": user_id})
    except httpx2.HTTPError as exc:
        log.warning("students_api_unreachable", error=type(exc).__name__)
        raise StudentsApiUnavailable from None
    if answer.status_code == 404:
        return None
    if answer.status_code == 409:
        raise HideRefused(str(answer.json().get("code")))
    if answer.status_code != 200:
        log.warning("students_api_error", status=answer.status_code)
        raise StudentsApiUnavailable
    data = answer.json()
    return HiddenState(UUID(data["schooling_id"]), bool(data["hidden"]), int(data["version"]), bool(data["changed"]))
