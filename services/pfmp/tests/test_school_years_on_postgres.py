"""School years per academy and the report on the real PostgreSQL: the academy's calendar (or fallback) bounds
a PFMP's dates when it is recorded or edited; a report lets a late PFMP of a past year in, is published as
SchoolingExtended and written to the audit trail."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts import (
    DocumentReady,
    Establishment,
    Identity,
    Mef,
    SchoolingExtended,
    SchoolingOpened,
    StudentRegistered,
    default_registry,
)
from aplypro_pfmp.adapters import school_years_sql
from aplypro_pfmp.adapters.csv_calendar import SAMPLE, read_calendar
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.domain.school_years import CalendarEntry
from aplypro_pfmp.entrypoints.cli import app
from aplypro_pfmp.service_layer import facts, projection
from aplypro_pfmp.service_layer.lifecycle import EditPfmp, delete_pfmp, edit_pfmp
from aplypro_pfmp.service_layer.reports import SetReport, set_report
from aplypro_pfmp.service_layer.use_cases import RecordPfmp, record_pfmp
from typer.testing import CliRunner, Result

pytestmark = pytest.mark.integration
MEF = Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ")
TODAY = date(2026, 10, 1)  # in school year 2026-2027


async def enrol(pool: asyncpg.Pool, ine: str, uai: str, academy: str | None, *, end: date | None = None,
                da: bool = False) -> uuid.UUID:
    """A student with a 2025 schooling in an establishment of `academy`; returns the schooling id."""
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_student_registered(conn, StudentRegistered(producer="students", version=1, student_id=student_id,
            identity=Identity(ine=ine, last_name="HOARAU", first_names=("Léa",), birth_date=date(2008, 3, 2))))
        await projection.on_schooling_opened(conn, SchoolingOpened(
            producer="students", schooling_id=schooling_id, student_id=student_id,
            establishment=Establishment(uai=uai, name="LP test", academy_code=academy), class_label="TLE PRO",
            school_year=2025, mef=MEF, start_date=date(2025, 9, 1), end_date=end, version=1))
        if da:
            await facts.on_document(conn, DocumentReady(
                producer="documents", document_id=uuid.uuid4(), kind="attribution", schooling_id=schooling_id,
                student_id=student_id, number="D-1", version=1, storage_ref="x", sha256="0" * 64, size_bytes=1))
    return schooling_id


async def record(pool: asyncpg.Pool, ine: str, uai: str, start: date, end: date) -> uuid.UUID | str:
    """The PFMP's id, or the refusal's code."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            return (await record_pfmp(conn, RecordPfmp(ine, uai, 2025, start, end, 5), topic="t")).pfmp.pfmp_id
    except PfmpError as exc:
        return exc.code


async def report(pool: asyncpg.Pool, schooling_id: uuid.UUID, new: date | None) -> int | str:
    """The report's version, or the refusal's code."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            return (await set_report(conn, SetReport(schooling_id, new, "director-1"), today=TODAY,
                                     topic="t")).version
    except PfmpError as exc:
        return exc.code


async def test_a_pfmp_of_la_reunion_starts_in_mid_august_under_its_fallback(pool: asyncpg.Pool) -> None:
    await enrol(pool, "000111223AB", "9740001A", "28")
    await enrol(pool, "000111224AB", "0350001A", "14")
    # La Réunion's 2025 school year runs from 16 August 2025: a PFMP of late August is in it ...
    assert isinstance(await record(pool, "000111223AB", "9740001A", date(2025, 8, 18), date(2025, 8, 29)), uuid.UUID)
    # ... and its last days are 15 August 2026; in Rennes the same dates belong to the year before.
    assert await record(pool, "000111223AB", "9740001A", date(2026, 8, 10), date(2026, 8, 16)) == "outside_school_year"
    assert await record(pool, "000111224AB", "0350001A", date(2025, 8, 18), date(2025, 8, 29)) == "outside_school_year"


async def test_the_loaded_calendar_of_the_academy_bounds_record_and_edit(pool: asyncpg.Pool) -> None:
    await enrol(pool, "000111224AB", "0350001A", "14")
    async with pool.acquire() as conn, conn.transaction():
        await school_years_sql.upsert_calendar(conn, read_calendar(SAMPLE))
        await school_years_sql.upsert_calendar(conn, [CalendarEntry("14", 2025, date(2025, 9, 1), date(2026, 7, 31))])
    assert await record(pool, "000111224AB", "0350001A", date(2026, 8, 3), date(2026, 8, 7)) == "outside_school_year"
    pfmp_id = await record(pool, "000111224AB", "0350001A", date(2026, 7, 20), date(2026, 7, 24))
    assert isinstance(pfmp_id, uuid.UUID)
    with pytest.raises(PfmpError) as caught:
        async with pool.acquire() as conn, conn.transaction():
            await edit_pfmp(conn, EditPfmp(pfmp_id, "staff-1", end_date=date(2026, 8, 3)), topic="t")
    assert caught.value.code == "outside_school_year"


async def test_a_report_lets_a_late_pfmp_of_a_past_year_in_and_is_published_and_audited(pool: asyncpg.Pool) -> None:
    schooling_id = await enrol(pool, "000111225AB", "0350001A", "14", end=date(2026, 6, 30), da=True)
    late = (date(2026, 9, 7), date(2026, 9, 18))  # after the summer: outside school year 2025
    assert await record(pool, "000111225AB", "0350001A", *late) == "outside_school_year"
    assert await report(pool, schooling_id, date(2026, 6, 30)) == "report_not_after_end"

    assert await report(pool, schooling_id, date(2026, 9, 30)) == 1
    pfmp_id = await record(pool, "000111225AB", "0350001A", *late)
    assert isinstance(pfmp_id, uuid.UUID)
    assert await report(pool, schooling_id, date(2026, 9, 18)) == "report_before_pfmp"  # on its end date
    assert await report(pool, schooling_id, None) == "report_in_use"
    assert await report(pool, schooling_id, date(2026, 9, 19)) == 2  # changed, still after the PFMP
    async with pool.acquire() as conn, conn.transaction():
        await delete_pfmp(conn, pfmp_id, "staff-1", topic="t")
    assert await report(pool, schooling_id, None) == 3

    registry = default_registry()
    payloads = await pool.fetchval("SELECT array_agg(payload ORDER BY id) FROM outbox") or []
    published = [e for e in map(registry.parse, payloads) if isinstance(e, SchoolingExtended)]
    assert [(e.extended_end_date, e.version, e.requested_by) for e in published] == [
        (date(2026, 9, 30), 1, "director-1"), (date(2026, 9, 19), 2, "director-1"), (None, 3, "director-1")]
    audit = await pool.fetch("SELECT user_id, action, report_date FROM pfmp_actions WHERE schooling_id = $1 "
                             "ORDER BY id", schooling_id)
    assert [tuple(r) for r in audit] == [("director-1", "set_report", date(2026, 9, 30)),
                                         ("director-1", "change_report", date(2026, 9, 19)),
                                         ("director-1", "remove_report", None)]


async def test_a_report_needs_a_closed_schooling_with_a_da_of_a_past_year(pool: asyncpg.Pool) -> None:
    open_one = await enrol(pool, "000111226AB", "0350001A", "14")
    without_da = await enrol(pool, "000111227AB", "0350001A", "14", end=date(2026, 6, 30))
    assert await report(pool, open_one, date(2026, 9, 30)) == "schooling_open"
    assert await report(pool, without_da, date(2026, 9, 30)) == "missing_attributive_decision"
    assert await report(pool, uuid.uuid4(), date(2026, 9, 30)) == "unknown_schooling"
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_load_school_years_loads_the_sample_or_refuses_a_file_whole(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path,
) -> None:
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}

    async def run(*args: str) -> Result:
        return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)

    done = await run("load-school-years")  # the shipped sample
    assert (done.exit_code, json.loads(done.stdout)) == (0, {"school_years": len(read_calendar(SAMPLE))})
    bad = tmp_path / "calendar.csv"
    bad.write_text("academie;annee_scolaire;premier_jour;dernier_jour\n14;2027;2027-09-01;2028-08-31\n"
                   "14;2028;2028-08-31;2029-08-31\n")
    refused = await run("load-school-years", str(bad))
    assert refused.exit_code == 2
    assert "share days" in refused.stderr
    assert await pool.fetchval("SELECT count(*) FROM school_years WHERE school_year >= 2027") == 0
    removal = await run("set-report", str(uuid.uuid4()), "--user", "director-1")
    assert removal.exit_code == 2  # neither --date nor --remove
