"""Helpers of the web tests: students announced to pfmp as the students service would, the DA and RIB
facts validation needs, and a login through the real OIDC provider's consent page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import asyncpg
import httpx2
from aplypro_contracts import Establishment, Identity, Mef, SchoolingOpened, StudentRegistered
from aplypro_pfmp.adapters import lifecycle_sql
from aplypro_pfmp.service_layer import projection
from starlette.testclient import TestClient


@dataclass(frozen=True)
class Seeded:
    student_id: uuid.UUID
    schooling_id: uuid.UUID
    ine: str
    last_name: str


async def seed_student(pool: asyncpg.Pool, uai: str, *, last_name: str = "HADDAD", class_label: str = "TLE PRO",
                       payable: bool = True, academy: str | None = None, mef_ministry: str = "MENJ",
                       contract_type_code: str = "99") -> Seeded:
    """One student with a 2025 schooling in `uai`; `payable`: an issued DA and a RIB on file."""
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    ine = f"{uuid.uuid4().int % 10**9:09d}AB"
    opened = SchoolingOpened(
        producer="students", schooling_id=schooling_id, student_id=student_id,
        establishment=Establishment(uai=uai, name="LP test", academy_code=academy,
                                    contract_type_code=contract_type_code), class_label=class_label,
        school_year=2025,
        mef=Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO",
                ministry=mef_ministry),
        start_date=date(2025, 9, 1), version=1,
    )  # fmt: skip
    identity = Identity(ine=ine, last_name=last_name, first_names=("Mehdi",), birth_date=date(2007, 11, 2))
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_student_registered(conn, StudentRegistered(producer="students", version=1, student_id=student_id,
                                                                       identity=identity))
        await projection.on_schooling_opened(conn, opened)
        if payable:
            await lifecycle_sql.record_decision(conn, schooling_id, "attribution", 1)
            await lifecycle_sql.record_rib_status(conn, student_id, uai, has_rib=True, version=1)
    return Seeded(student_id, schooling_id, ine, last_name)


def login(client: TestClient, sub: str, realm: str | None = None) -> httpx2.Response:
    """The whole code flow: the app's redirect, the provider's consent page (a click on the account), the
    callback; returns the page the app lands on. `realm`: the login realm's button (None: the single provider)."""
    to_provider = client.get("/connexion" if realm is None else f"/connexion/{realm}", follow_redirects=False)
    assert to_provider.status_code == 302, to_provider.text
    with httpx2.Client() as browser:
        consent = browser.post(to_provider.headers["location"], data={"sub": sub}, follow_redirects=False)
    assert consent.status_code == 302, consent.text
    callback = consent.headers["location"]
    assert callback.startswith("https://testserver/auth/callback?" if realm is None
                               else f"https://testserver/auth/callback/{realm}?")
    return client.get(callback.removeprefix("https://testserver"))


def csrf_of(page: httpx2.Response) -> str:
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start:page.text.index('"', start)]
