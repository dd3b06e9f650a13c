"""Stale DAs (documents.md §6) on the student page and the class page, through HTTP (TestClient), the real OIDC
provider and the real database, each fact fed through the handler of the event pfmp consumes: a DA is marked
*À rééditer* when what it prints (the student's identity or address, the MEF or the establishment, the barème)
changed after documents issued it, with what changed and what to do; a class change, a replay, a change
documents had already printed, an undone change or a reissue leave it unmarked."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    DocumentReady,
    Establishment,
    Identity,
    Mef,
    SchoolingOpened,
    SchoolingPriced,
    StudentAddressChanged,
    StudentIdentityChanged,
    StudentRegistered,
    StudentState,
)
from aplypro_contracts.students import Address
from aplypro_local.school import UAI
from aplypro_pfmp.service_layer import facts, projection
from starlette.testclient import TestClient

from .test_web_app import make_client
from .test_web_money import TODAY, director_confirmed
from .web_world import login

pytestmark = pytest.mark.integration
T0 = datetime(2025, 9, 1, 8, tzinfo=UTC)
BAC_PRO = Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ")
OTHER_MEF = Mef(code="2473121132", dispositif="247", diploma="40025510", label="BAC PRO AUTRE", ministry="MENJ")


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        client.app.state.today = lambda: TODAY  # type: ignore[attr-defined]
        yield client


class Student:
    """One student of the demo school, class TLE PRO, whose facts arrive as pfmp's consumers apply them."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.student_id, self.schooling_id = uuid.uuid4(), uuid.uuid4()
        self.schooling_version = 0
        self.da_version = 0
        self.identity_version = 0

    def identity(self, city: str = "Rennes") -> Identity:
        return Identity(ine="123456789AB", last_name="PERIME", first_names=("Nora",), birth_date=date(2008, 3, 4),
                        address=Address(lines=("1 rue de la Gare",), postal_code="35000", city_name=city))

    async def registered(self, at: datetime, city: str = "Rennes", *, sex: str = "unknown",
                         replay: bool = False) -> None:
        """The first time StudentRegistered, then each change as the students service tells it: a new city is
        StudentAddressChanged, a new sex StudentIdentityChanged, each the identity's next version. `replay`: the
        last event read again (same version)."""
        if not replay:
            self.identity_version += 1
        identity = self.identity(city).model_copy(update={"sex": sex})
        common: dict[str, Any] = {"producer": "students", "student_id": self.student_id, "identity": identity,
                                  "occurred_at": at, "version": self.identity_version}
        event: StudentState
        if self.identity_version == 1:
            event = StudentRegistered(**common)
        elif sex != "unknown":
            event = StudentIdentityChanged(**common, changed=("sex",))
        else:
            event = StudentAddressChanged(**common, changed=("address",))
        async with self.pool.acquire() as conn, conn.transaction():
            await projection.on_student_registered(conn, event)

    async def schooling(self, at: datetime, *, mef: Mef = BAC_PRO, class_label: str = "TLE PRO") -> None:
        self.schooling_version += 1
        async with self.pool.acquire() as conn, conn.transaction():
            await projection.on_schooling_opened(conn, SchoolingOpened(
                producer="students", schooling_id=self.schooling_id, student_id=self.student_id,
                establishment=Establishment(uai=UAI, name="LP test"), class_label=class_label, school_year=2025,
                mef=mef, start_date=date(2025, 9, 1), version=self.schooling_version, occurred_at=at))

    async def priced(self, at: datetime, rate: int) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await facts.on_schooling_priced(conn, SchoolingPriced(
                producer="calculator", schooling_id=self.schooling_id, student_id=self.student_id,
                school_year=2025, priced=True, daily_rate_cents=rate, yearly_cap_cents=52500, occurred_at=at))

    async def da_issued(self, at: datetime) -> None:
        self.da_version += 1
        async with self.pool.acquire() as conn, conn.transaction():
            await facts.on_document(conn, DocumentReady(
                producer="documents", document_id=uuid.uuid4(), kind="attribution", schooling_id=self.schooling_id,
                student_id=self.student_id, number=f"ENPUK7Q2M9X4TB2025{self.da_version}", version=self.da_version,
                storage_ref="x.pdf", sha256="0" * 64, size_bytes=1, occurred_at=at))


def stale_text(client: TestClient, student: Student) -> str | None:
    """The DA row's stale marker on the student page (None without one); the class page must agree."""
    page = client.get(f"/etablissements/{UAI}/eleves/{student.student_id}").text
    row = page[page.index(f'data-schooling="{student.schooling_id}"'):]
    row = row[:row.index("</tr>")]
    found = re.search(r'<div class="decision-stale">(.*?)</div>', row, re.S)
    class_page = client.get(f"/etablissements/{UAI}/annees/2025/classes/TLE PRO").text
    assert ("Décision d&#39;attribution à rééditer" in class_page or
            "Décision d'attribution à rééditer" in class_page) == (found is not None)
    # the class's and the establishment's DA panels count it
    for panel in (class_page, client.get(f"/etablissements/{UAI}?annee=2025").text):
        assert ("1 décision(s) à rééditer" in panel) == (found is not None)
    return " ".join(found.group(1).split()) if found else None


async def test_a_da_is_marked_for_reissue_when_what_it_prints_changed_after_its_issue(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = Student(pool)
    await student.registered(T0)
    await student.schooling(T0)
    await student.priced(T0, 1500)
    issued = T0 + timedelta(days=1)
    await student.da_issued(issued)
    await director_confirmed(client, pool)
    assert stale_text(client, student) is None

    # Nothing a DA prints: a replayed identity, the sex (not printed), a class change; not stale
    await student.registered(T0, replay=True)
    await student.registered(issued + timedelta(days=1), sex="female")
    await student.schooling(issued + timedelta(days=1), class_label="TLE PRO")
    await student.priced(issued + timedelta(days=1), 1500)  # priced again, same barème
    assert stale_text(client, student) is None

    # The address changes after the DA: stale, with what changed and what to do
    await student.registered(issued + timedelta(days=2), city="Brest")
    marker = stale_text(client, student)
    assert marker is not None
    assert "À rééditer" in marker
    assert "l&#39;identité ou l&#39;adresse de l&#39;élève a changé" in marker
    assert "À faire : rééditer la décision" in marker
    # then the barème: both named
    await student.priced(issued + timedelta(days=3), 2000)
    marker = stale_text(client, student)
    assert marker is not None
    assert "l&#39;adresse de l&#39;élève, le barème (taux journalier ou plafond annuel) ont changé" in marker
    # Staff see it too, and whom to ask
    with make_client(database_url, namespace, oidc_issuer) as staff:
        login(staff, "personnel")
        marker = stale_text(staff, student)
        assert marker is not None
        assert "demander au chef d&#39;établissement de rééditer la décision" in marker

    # The reissue documents issues from the new data clears it
    reissued = issued + timedelta(days=4)
    await student.da_issued(reissued)
    assert stale_text(client, student) is None

    # A change documents printed already (its event is older than the DA) but pfmp hears of after: not stale
    await student.registered(reissued - timedelta(hours=1), city="Quimper")
    await student.da_issued(reissued + timedelta(hours=1))
    await student.registered(reissued - timedelta(minutes=30), city="Lorient")
    assert stale_text(client, student) is None

    # The MEF changes after the DA: stale; changed back: the DA says what it would say today again
    later = reissued + timedelta(days=1)
    await student.schooling(later, mef=OTHER_MEF)
    marker = stale_text(client, student)
    assert marker is not None
    assert "la formation (MEF) ou les coordonnées de l&#39;établissement a changé" in marker
    await student.schooling(later + timedelta(days=1), mef=BAC_PRO)
    assert stale_text(client, student) is None


async def test_a_change_pfmp_hears_of_before_the_da_it_came_after_still_marks_it(
        client: TestClient, pool: asyncpg.Pool) -> None:
    """Documents issued the DA, then the student moved; pfmp applied the move before the DA's DocumentReady: the
    DA predates what pfmp holds, so it is stale."""
    student = Student(pool)
    await student.registered(T0)
    await student.schooling(T0)
    issued = T0 + timedelta(days=1)
    await student.registered(issued + timedelta(hours=1), city="Brest")
    await student.da_issued(issued)
    login(client, "directrice")
    marker = stale_text(client, student)
    assert marker is not None
    assert "l&#39;identité ou l&#39;adresse de l&#39;élève a changé" in marker


async def test_an_abrogated_da_and_one_issued_before_it_was_tracked_are_not_marked(
        client: TestClient, pool: asyncpg.Pool) -> None:
    student = Student(pool)
    await student.registered(T0)
    await student.schooling(T0)
    await student.da_issued(T0 + timedelta(days=1))
    await student.registered(T0 + timedelta(days=2), city="Brest")
    login(client, "directrice")
    assert stale_text(client, student) is not None
    async with pool.acquire() as conn, conn.transaction():
        await facts.on_document(conn, DocumentReady(
            producer="documents", document_id=uuid.uuid4(), kind="abrogation", schooling_id=student.schooling_id,
            student_id=student.student_id, number="ENPUK7Q2M9X4TB20251", version=1, storage_ref="a.pdf",
            sha256="0" * 64, size_bytes=1, occurred_at=T0 + timedelta(days=3)))
    assert stale_text(client, student) is None  # final: never reissued
    untracked = Student(pool)
    await untracked.registered(T0)
    await untracked.schooling(T0)
    await untracked.da_issued(T0 + timedelta(days=1))
    await pool.execute("UPDATE decisions SET issued_at = NULL, identity_sha = NULL WHERE schooling_id = $1",
                       untracked.schooling_id)  # as a DA projected before migration 0018
    await untracked.registered(T0 + timedelta(days=2), city="Brest")
    assert stale_text(client, untracked) is None


async def test_a_topic_replay_fills_what_das_projected_before_migration_0018_were_issued_from(
        client: TestClient, pool: asyncpg.Pool) -> None:
    """A DA and its schooling projected before migration 0018 (no fingerprint, no issue noted): replaying the
    same SchoolingOpened and DocumentReady (same versions) fills them, so a later MEF change marks the DA."""
    student = Student(pool)
    await student.registered(T0)
    await student.schooling(T0)
    await student.da_issued(T0 + timedelta(days=1))
    await pool.execute("UPDATE schoolings SET da_content_sha = NULL, da_content_at = NULL WHERE schooling_id = $1",
                       student.schooling_id)
    await pool.execute("UPDATE decisions SET issued_at = NULL, identity_sha = NULL, content_sha = NULL, "
                       "price = NULL WHERE schooling_id = $1", student.schooling_id)
    login(client, "directrice")
    # The replay: the same versions again (the students topic, then documents')
    student.schooling_version -= 1
    await student.schooling(T0)
    student.da_version -= 1
    await student.da_issued(T0 + timedelta(days=1))
    assert await pool.fetchval("SELECT version FROM decisions WHERE schooling_id = $1", student.schooling_id) == 1
    assert stale_text(client, student) is None
    await student.schooling(T0 + timedelta(days=2), mef=OTHER_MEF)
    marker = stale_text(client, student)
    assert marker is not None
    assert "la formation (MEF)" in marker
