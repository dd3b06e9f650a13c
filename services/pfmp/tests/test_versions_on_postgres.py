"""PFMP versions and the schoolings projection on the real PostgreSQL (issue 9, stale events)."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest
from aplypro_contracts import (
    Establishment,
    Identity,
    Mef,
    PfmpRecorded,
    PfmpValidated,
    SchoolingClosed,
    SchoolingOpened,
    SchoolingReopened,
    StudentIdentityChanged,
    StudentRegistered,
    default_registry,
)
from aplypro_pfmp.service_layer import projection
from aplypro_pfmp.service_layer.use_cases import RecordPfmp, record_pfmp
from aplypro_pfmp.service_layer.validation import validate_establishment
from aplypro_servicekit.db import Connection

pytestmark = pytest.mark.integration


async def validate_all(conn: Connection, today: date) -> int:
    """The director's bulk validation, every schooling holding its DA (issue 10's guard)."""
    await conn.execute("INSERT INTO decisions SELECT schooling_id, 'attribution', 1 FROM schoolings "
                       "ON CONFLICT DO NOTHING")
    report = await validate_establishment(conn, uai=None, user_id="user-1", today=today, topic="t",
                                          require_rib=False)
    return len(report.validated)


def schooling(version: int, end: date | None = None) -> SchoolingOpened:
    return SchoolingOpened(
        producer="students", schooling_id=uuid.UUID(int=1), student_id=uuid.UUID(int=2),
        establishment=Establishment(uai="0999001K", name="LP test"), class_label="TLE PRO", school_year=2025,
        mef=Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ"),
        start_date=date(2025, 9, 1), end_date=end, version=version)


async def test_an_older_schooling_never_overwrites_a_newer_one_and_is_counted(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_schooling_opened(conn, schooling(2, end=date(2026, 1, 4)))  # closed: version 2
        await projection.on_schooling_opened(conn, schooling(1))  # the opening, read late
        await projection.on_schooling_opened(conn, schooling(2, end=date(2026, 1, 4)))  # replayed
    row = await pool.fetchrow("SELECT end_date, version FROM schoolings")
    assert row is not None
    assert (row["end_date"], row["version"]) == (date(2026, 1, 4), 2)
    assert await pool.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'SchoolingOpened'") == 2


def identity(last_name: str) -> Identity:
    return Identity(ine="123456789AB", last_name=last_name, first_names=("Nora",), birth_date=date(2008, 3, 4))


async def test_an_older_identity_read_after_a_newer_one_is_dropped_and_counted(pool: asyncpg.Pool) -> None:
    student_id = uuid.UUID(int=2)
    registered = StudentRegistered(producer="students", student_id=student_id, identity=identity("DURAND"),
                                   version=1)
    renamed = StudentIdentityChanged(producer="students", student_id=student_id, identity=identity("DURAND-LEBLANC"),
                                     version=2, changed=("last_name",))
    v1_unversioned = default_registry().parse_obj({  # a StudentRegistered v1 from before the upgrade: version 0
        **registered.model_dump(mode="json", exclude={"version"}), "schema_version": 1,
        "identity": identity("ANCIEN").model_dump(mode="json")})
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_student_registered(conn, renamed)  # the correction, read first
        await projection.on_student_registered(conn, registered)  # the registration, read late: older
        assert isinstance(v1_unversioned, StudentRegistered)
        await projection.on_student_registered(conn, v1_unversioned)  # older than any versioned identity
        assert await conn.fetchval("SELECT last_name FROM students") == "DURAND-LEBLANC"  # never the older names
        await projection.on_student_registered(conn, renamed)  # replayed
    row = await pool.fetchrow("SELECT last_name, identity_version FROM students")
    assert row is not None
    assert (row["last_name"], row["identity_version"]) == ("DURAND-LEBLANC", 2)
    assert await pool.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'StudentRegistered'") == 3


async def test_an_unversioned_identity_still_follows_an_unversioned_one(pool: asyncpg.Pool) -> None:
    """Before the students service is upgraded, its StudentRegistered v1 (version 0) apply as before."""
    body = StudentRegistered(producer="students", student_id=uuid.UUID(int=2), identity=identity("AVANT"),
                             version=1).model_dump(mode="json", exclude={"version"})
    async with pool.acquire() as conn, conn.transaction():
        for name in ("AVANT", "APRES"):
            event = default_registry().parse_obj(
                {**body, "schema_version": 1, "identity": identity(name).model_dump(mode="json")})
            assert isinstance(event, StudentRegistered)
            await projection.on_student_registered(conn, event)
    assert await pool.fetchval("SELECT last_name FROM students") == "APRES"


async def test_a_closing_and_a_reopening_apply_as_the_schooling_s_next_versions(pool: asyncpg.Pool) -> None:
    opened = schooling(1)
    state = opened.model_dump(exclude={"event_type", "schema_version", "event_id", "version", "end_date"})
    closed = SchoolingClosed(**state, end_date=date(2026, 1, 4), end_date_inferred=True, version=2)
    reopened = SchoolingReopened(**state, version=3)
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_schooling_opened(conn, opened)
        await projection.on_schooling_opened(conn, closed)
        assert await conn.fetchval("SELECT end_date FROM schoolings") == date(2026, 1, 4)
        await projection.on_schooling_opened(conn, reopened)
        await projection.on_schooling_opened(conn, closed)  # read again late: stale
    row = await pool.fetchrow("SELECT end_date, version FROM schoolings")
    assert row is not None
    assert (row["end_date"], row["version"]) == (None, 3)


async def test_a_pfmp_is_recorded_at_version_1_and_validated_at_version_2(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_schooling_opened(conn, schooling(1))
        await conn.execute("INSERT INTO students VALUES ($1, 'INE0001', 'X', '{Y}')", uuid.UUID(int=2))
        await record_pfmp(conn, RecordPfmp("INE0001", "0999001K", 2025, date(2025, 10, 6), date(2025, 10, 17), 10),
                          topic="t")
        assert await validate_all(conn, date(2026, 1, 1)) == 1
    registry = default_registry()
    events = [registry.parse(p) for p in await pool.fetchval("SELECT array_agg(payload ORDER BY id) FROM outbox")]
    assert [(type(e), e.pfmp.version) for e in events if isinstance(e, PfmpRecorded | PfmpValidated)] == [
        (PfmpRecorded, 1), (PfmpValidated, 2)]
    assert await pool.fetchval("SELECT version FROM pfmps") == 2
