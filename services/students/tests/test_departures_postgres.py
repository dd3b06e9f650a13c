"""Full snapshots on the real PostgreSQL (imports.md §5.6): absentees leave, under the mass-departure guard.

One test per rule: departures are closed on the snapshot's date and flagged inferred, once; a snapshot
closing over the share, or an empty one, writes nothing unless forced; every class of the establishment is
checked; hidden schoolings are left out; a full file with refused rows is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import SchoolingClosed, default_registry
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.db import create_pool, migrate
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.departures import MassDeparture
from aplypro_students.domain.report import InvalidFile
from aplypro_students.entrypoints.cli import app
from aplypro_students.service_layer.import_students import ImportStudents, ImportSummary, import_students
from aplypro_students.service_layer.reference import load_establishments, load_mefs
from typer.testing import CliRunner

from .conftest import DATA, HEADER, UAI

pytestmark = pytest.mark.integration
WriteCsv = Callable[..., Path]
TODAY = date(2025, 10, 15)
TLE, PREMIERE = ("TLE PRO MELEC", "2473121133"), ("1ERE PRO MELEC", "2473121132")


def ine(n: int) -> str:
    return f"{200000000 + n:09d}AB"


def rows(numbers: range | list[int], cls: tuple[str, str] = TLE) -> list[str]:
    return [f"2025-2026;{ine(n)};NOM{n};Prenom;2008-01-01;F;35238;99100;1 rue A;35000;35238;RENNES;99100;"
            f"{cls[0]};{cls[1]};scolaire;2025-09-01;" for n in numbers]


class Db:
    def __init__(self, pool: asyncpg.Pool, settings: StudentsSettings, write_csv: WriteCsv) -> None:
        self.pool, self.settings, self.write_csv = pool, settings, write_csv

    async def load(self, lines: list[str], *, mode: str = "partial", force: bool = False,
                   accept_valid_rows: bool = False, share: float = 0.2) -> ImportSummary:
        parsed = read_students_csv(self.write_csv(HEADER, *lines), uai=UAI)
        command = ImportStudents(UAI, parsed.records, parsed.errors, parsed.warnings, mode,  # type: ignore[arg-type]
                                 accept_valid_rows, force_departures=force)
        async with self.pool.acquire() as conn, conn.transaction():
            return await import_students(conn, command, today=TODAY, topic=self.settings.topic(STUDENTS_EVENTS),
                                         max_departure_share=share)

    async def state(self) -> dict[str, Any]:
        """Everything a refused import must leave as it was."""
        return {
            "schoolings": [tuple(r) for r in await self.pool.fetch(
                "SELECT student_id, class_id, end_date, end_date_inferred, version FROM schoolings ORDER BY 1, 2")],
            "students": await self.pool.fetchval("SELECT count(*) FROM students"),
            "outbox": await self.pool.fetchval("SELECT count(*) FROM outbox"),
            "imports": await self.pool.fetchval("SELECT count(*) FROM imports"),
        }

    async def closed(self) -> dict[str, tuple[date, bool]]:
        found = await self.pool.fetch("SELECT st.ine, s.end_date, s.end_date_inferred FROM schoolings s "
                                      "JOIN students st USING (student_id) WHERE s.end_date IS NOT NULL")
        return {r["ine"]: (r["end_date"], r["end_date_inferred"]) for r in found}

    async def events_since(self, outbox_id: int) -> list[Any]:
        payloads = await self.pool.fetch("SELECT payload FROM outbox WHERE id > $1 ORDER BY id", outbox_id)
        return [default_registry().parse(r["payload"]) for r in payloads]

    async def last_outbox_id(self) -> int:
        return int(await self.pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))


@pytest.fixture
async def db(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch,
             write_csv: WriteCsv) -> AsyncIterator[Db]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    settings = StudentsSettings()
    pool = await create_pool(settings.database_url, settings.db_schema("students"), size=2)
    await migrate(pool, settings.db_schema("students"), ["aplypro_servicekit", "aplypro_students"])
    async with pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, read_establishments_csv(DATA / "establishments.csv"))
        await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs.csv"))
    try:
        yield Db(pool, settings, write_csv)
    finally:
        await pool.close()


async def test_a_full_snapshot_closes_its_absentees_once_on_its_date_flagged_inferred(db: Db) -> None:
    await db.load(rows(range(10)))
    before = await db.last_outbox_id()
    # one student of ten is no longer listed: 10 % is under the 20 % guard
    summary = await db.load(rows(range(1, 10)), mode="full")
    assert (summary.departures, summary.events) == (1, 1)
    assert await db.closed() == {ine(0): (TODAY, True)}
    [event] = await db.events_since(before)
    assert isinstance(event, SchoolingClosed)
    assert (event.end_date, event.end_date_inferred, event.version) == (TODAY, True, 2)  # full state, next version
    # the same snapshot again: nothing changes, nothing is emitted
    again = await db.load(rows(range(1, 10)), mode="full")
    assert (again.departures, again.events) == (0, 0)


async def test_partial_mode_never_closes_an_absentee(db: Db) -> None:
    await db.load(rows(range(10)))
    assert (await db.load(rows(range(1, 10)))).departures == 0
    assert await db.closed() == {}


async def test_a_snapshot_closing_over_the_share_is_refused_and_writes_nothing(db: Db) -> None:
    await db.load(rows(range(10)))
    before = await db.state()
    # three of ten missing (30 % > 20 %), and a newcomer who must not be written either
    with pytest.raises(MassDeparture) as refused:
        await db.load(rows([*range(3, 10), 50]), mode="full")
    assert (refused.value.code, refused.value.closing, refused.value.open_count) == ("mass_departure", 3, 10)
    assert await db.state() == before


async def test_an_empty_snapshot_is_refused_whatever_the_share(db: Db) -> None:
    await db.load(rows(range(10)))
    before = await db.state()
    with pytest.raises(MassDeparture) as refused:
        await db.load([], mode="full", share=1.0)
    assert refused.value.empty
    assert await db.state() == before


async def test_the_operator_may_force_a_refused_snapshot(db: Db) -> None:
    await db.load(rows(range(10)))
    summary = await db.load(rows(range(3, 10)), mode="full", force=True)
    assert summary.departures == 3
    assert set(await db.closed()) == {ine(0), ine(1), ine(2)}


async def test_a_class_missing_from_the_snapshot_is_caught_with_a_configured_share(db: Db) -> None:
    await db.load([*rows(range(6)), *rows(range(6, 10), PREMIERE)])
    # the whole 1ERE class is missing: 4 of 10; the establishment's setting allows up to 50 %
    summary = await db.load(rows(range(6)), mode="full", share=0.5)
    assert summary.departures == 4
    assert set(await db.closed()) == {ine(n) for n in range(6, 10)}


async def test_hidden_schoolings_are_neither_closed_nor_counted(db: Db) -> None:
    await db.load(rows(range(5)))
    await db.pool.execute("UPDATE schoolings SET hidden_at = now() WHERE student_id = "
                          "(SELECT student_id FROM students WHERE ine = $1)", ine(0))
    # ine(0) is hidden and absent: 0 of 4 counted open schoolings close
    summary = await db.load(rows(range(1, 5)), mode="full")
    assert summary.departures == 0
    assert await db.closed() == {}


async def test_a_full_file_with_refused_rows_is_refused(db: Db) -> None:
    await db.load(rows(range(5)))
    bad = rows([4])[0].replace("2008-01-01", "hier")  # its student is listed, but the row is refused
    with pytest.raises(InvalidFile) as refused:
        await db.load([*rows(range(4)), bad], mode="full", accept_valid_rows=True)
    assert "mode.full_with_refused_rows" in {e.code for e in refused.value.errors}
    assert await db.closed() == {}


def test_import_csv_full_mode_is_guarded_and_can_be_forced(cli: CliRunner, write_csv: WriteCsv) -> None:
    assert cli.invoke(app, ["load-establishments", str(DATA / "establishments.csv")]).exit_code == 0
    assert cli.invoke(app, ["load-mefs", str(DATA / "mefs.csv"), "--school-year", "2025"]).exit_code == 0
    assert cli.invoke(app, ["import-csv", str(write_csv(HEADER, *rows(range(5)))), "--uai", UAI]).exit_code == 0
    fewer = str(write_csv(HEADER, *rows(range(3))))
    refused = cli.invoke(app, ["import-csv", fewer, "--uai", UAI, "--mode", "full"])
    assert refused.exit_code == 3, refused.output
    assert "mass_departure: 2 of 5 open schoolings would close" in refused.stderr
    forced = cli.invoke(app, ["import-csv", fewer, "--uai", UAI, "--mode", "full", "--force-departures"])
    assert forced.exit_code == 0, forced.output
    assert '"departures": 2' in forced.stdout
