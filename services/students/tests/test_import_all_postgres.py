"""Providers and import-all on the real PostgreSQL: the audited provider, runs that resume after a crash,
failures retried by a re-run, credentials stopping a run, one run at a time, FREGATA refused while absent,
the summer freeze, and the nightly schedule; the SYGNE source end to end against the fake over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_local.fake_sygne import FakeSygneServer, serve
from aplypro_local.fake_sygne.sample import sample_state
from aplypro_servicekit.db import create_pool, migrate
from aplypro_students.adapters.api_errors import ApiAuthFailed, ApiUnavailable
from aplypro_students.adapters.csv_reference import read_establishments_csv
from aplypro_students.adapters.postgres_runs import try_lock_run
from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.cli import app
from aplypro_students.entrypoints.nightly import next_run, run_source
from aplypro_students.entrypoints.service import build_spec
from aplypro_students.service_layer.import_all import RunInProgress, import_all, work_on_run
from aplypro_students.service_layer.providers import change_provider
from aplypro_students.service_layer.reference import load_establishments
from typer.testing import CliRunner

from .conftest import DATA

pytestmark = pytest.mark.integration
TODAY = date(2025, 10, 15)
UAIS = ["0999101A", "0999102B", "0999103C"]


class Crash(BaseException):
    """The process dies mid-run (not an error an importer reports)."""


class FakeImporter:
    """The source port: records the establishments it is asked for; fails or crashes on request."""

    def __init__(self, fail: dict[str, BaseException] | None = None) -> None:
        self.calls: list[str] = []
        self.fail = fail or {}

    async def __call__(self, uai: str, school_year: int, *, today: date) -> dict[str, Any]:
        self.calls.append(uai)
        if uai in self.fail:
            raise self.fail[uai]
        return {"source": "fake", "uai": uai, "students": 10, "events": 2, "skipped": [{"ine": "X", "reason": "r"}],
                "errors": []}


@pytest.fixture
async def pool(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch,
               write_csv: Callable[..., Path]) -> AsyncIterator[asyncpg.Pool]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    settings = StudentsSettings()
    pool = await create_pool(database_url, settings.db_schema("students"), size=4)
    await migrate(pool, settings.db_schema("students"), ["aplypro_servicekit", "aplypro_students"])
    lines = [f"{uai};LP {uai};MENJ;14;99;1 rue A;35000;RENNES;;;" for uai in UAIS]
    reference = write_csv("uai;name;ministry;academy_code;contract_type_code;address_line1;postal_code;city;"
                          "email;phone;head_name", *lines, "0999104D;LP D;MENJ;14;99;1 rue A;35000;RENNES;;;")
    async with pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, read_establishments_csv(reference))
        await change_provider(conn, UAIS, "sygne", by="u-admin")  # 0999104D stays csv: never imported
    try:
        yield pool
    finally:
        await pool.close()


async def test_set_provider_is_audited_and_checked(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        change = await change_provider(conn, ["0999101A", "0999104D"], "events:msa-sifa", by="u-42")
        assert (change.changed, change.unchanged) == (["0999101A", "0999104D"], [])
        again = await change_provider(conn, ["0999101A"], "events:msa-sifa", by="u-42")
        assert (again.changed, again.unchanged) == ([], ["0999101A"])  # no change, no audit row
    audit = await pool.fetch("SELECT uai, old_provider, new_provider, changed_by FROM provider_changes "
                             "WHERE changed_by = 'u-42' ORDER BY uai")
    assert [tuple(r) for r in audit] == [("0999101A", "sygne", "events:msa-sifa", "u-42"),
                                         ("0999104D", "csv", "events:msa-sifa", "u-42")]
    with pytest.raises(asyncpg.CheckViolationError):  # the column itself refuses another shape
        await pool.execute("UPDATE establishments SET students_provider = 'ftp' WHERE uai = '0999101A'")


async def test_a_run_imports_only_its_providers_establishments_and_records_each(pool: asyncpg.Pool) -> None:
    importer = FakeImporter()
    summary = await import_all(pool, importer, "sygne", 2025, today=TODAY, concurrency=2)
    assert sorted(importer.calls) == UAIS
    assert (summary.establishments, summary.done, summary.failed, summary.finished) == (3, 3, [], True)
    assert (summary.totals["students"], summary.totals["events"]) == (30, 6)
    stored = await pool.fetch("SELECT uai, outcome, report FROM import_run_establishments ORDER BY uai")
    assert [(r["uai"], r["outcome"]) for r in stored] == [(u, "done") for u in UAIS]
    assert "X" not in stored[0]["report"]  # counts only: the skipped INE is not stored
    assert json.loads(stored[0]["report"])["skipped"] == 1
    # a finished run is not continued: the next run imports everything again
    assert (await import_all(pool, importer, "sygne", 2025, today=TODAY)).done == 3


async def test_a_run_that_crashed_is_continued_by_the_next_one(pool: asyncpg.Pool) -> None:
    with pytest.RaisesGroup(Crash):  # the task group wraps it
        await import_all(pool, FakeImporter({UAIS[2]: Crash()}), "sygne", 2025, today=TODAY, concurrency=1)
    assert await pool.fetchval("SELECT status FROM import_runs") == "open"
    again = FakeImporter()
    summary = await import_all(pool, again, "sygne", 2025, today=TODAY, concurrency=1)
    assert again.calls == [UAIS[2]]  # the two finished establishments are not imported twice
    assert (summary.resumed, summary.done, summary.finished) == (2, 1, True)
    assert await pool.fetchval("SELECT count(*) FROM import_runs") == 1


class SlowImporter(FakeImporter):
    async def __call__(self, uai: str, school_year: int, *, today: date) -> dict[str, Any]:
        await asyncio.sleep(0.2)  # long enough for the other worker to claim the next establishment
        return await super().__call__(uai, school_year, today=today)


class InProcessHelper:
    """A helper (as entrypoints/import_workers.py starts in a process) claiming the same run beside the main one."""

    def __init__(self, pool: asyncpg.Pool, importer: FakeImporter, run_id: Any) -> None:
        self.reports: asyncio.Queue[tuple[str, str, dict[str, Any]]] = asyncio.Queue()
        self.task = asyncio.ensure_future(work_on_run(
            pool, importer, run_id, 2025, today=TODAY, concurrency=1,
            on_report=lambda *done: self.reports.put_nowait(done), should_stop=lambda: False))

    async def next_report(self) -> tuple[str, str, dict[str, Any]] | None:
        while self.reports.empty():
            if self.task.done():
                return None
            await asyncio.sleep(0.01)
        return self.reports.get_nowait()

    def stop(self) -> None: ...

    def failed(self) -> int:
        return 0

    def close(self) -> None: ...


async def test_workers_share_a_run_each_establishment_imported_once(pool: asyncpg.Pool) -> None:
    main, helper = SlowImporter(), SlowImporter()
    summary = await import_all(pool, main, "sygne", 2025, today=TODAY, concurrency=1,
                               helpers=lambda run_id: InProcessHelper(pool, helper, run_id))
    assert sorted(main.calls + helper.calls) == UAIS  # each once, between the two
    assert main.calls
    assert helper.calls
    assert (summary.done, summary.finished, summary.totals["students"]) == (3, True, 30)  # the helper's counted
    outcomes = await pool.fetch("SELECT outcome FROM import_run_establishments")
    assert [r["outcome"] for r in outcomes] == ["done"] * 3


async def test_an_open_run_of_an_earlier_night_is_abandoned_not_continued(pool: asyncpg.Pool) -> None:
    with pytest.RaisesGroup(Crash):  # the task group wraps it
        await import_all(pool, FakeImporter({UAIS[1]: Crash()}), "sygne", 2025, today=TODAY, concurrency=1)
    await pool.execute("UPDATE import_runs SET started_at = now() - interval '21 hours'")
    again = FakeImporter()
    await import_all(pool, again, "sygne", 2025, today=TODAY, concurrency=1, resume_hours=20)
    assert again.calls == UAIS
    assert sorted(r["status"] for r in await pool.fetch("SELECT status FROM import_runs")) == ["abandoned",
                                                                                               "finished"]


async def test_a_failed_establishment_is_reported_and_retried_by_a_re_run(pool: asyncpg.Pool) -> None:
    down = ApiUnavailable("sygne", "etablissements/{uai}/eleves", "status 504 after 5 attempts")
    summary = await import_all(pool, FakeImporter({UAIS[0]: down}), "sygne", 2025, today=TODAY)
    assert (summary.done, summary.failed, summary.finished) == (2, [{"uai": UAIS[0], "reason": "api_unavailable"}],
                                                                False)
    again = FakeImporter()
    assert (await import_all(pool, again, "sygne", 2025, today=TODAY)).finished
    assert again.calls == [UAIS[0]]


async def test_refused_credentials_stop_the_run(pool: asyncpg.Pool) -> None:
    refused = ApiAuthFailed("sygne", "token endpoint said invalid_client")
    importer = FakeImporter(dict.fromkeys(UAIS, refused))
    summary = await import_all(pool, importer, "sygne", 2025, today=TODAY, concurrency=1)
    assert (importer.calls, summary.stopped, summary.finished) == ([UAIS[0]], "api_auth_failed", False)


async def test_one_run_of_a_source_and_year_at_a_time(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as other:
        assert await try_lock_run(other, "sygne", 2025)  # another import-all holds the run
        with pytest.raises(RunInProgress):
            await import_all(pool, FakeImporter(), "sygne", 2025, today=TODAY)
        await other.execute("SELECT pg_advisory_unlock_all()")


async def test_the_summer_freeze_skips_the_sygne_run(pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(sample_state()) as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        out = await run_source(pool, StudentsSettings(), "sygne", 2025, today=date(2026, 7, 14))
        assert out == {"source": "sygne", "school_year": 2025, "skipped": "summer_freeze"}
        assert sum(fake.state.requests.values()) == 0
    assert await pool.fetchval("SELECT count(*) FROM import_runs") == 0


def test_the_nightly_run_is_scheduled_at_the_configured_hour_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert next_run(datetime(2025, 10, 15, 1, 0, tzinfo=UTC), 2).isoformat() == "2025-10-16T02:00:00+02:00"
    assert next_run(datetime(2025, 10, 14, 23, 0, tzinfo=UTC), 2).isoformat() == "2025-10-15T02:00:00+02:00"
    assert next_run(datetime(2025, 10, 25, 12, 0, tzinfo=UTC), 5).isoformat() == "2025-10-26T05:00:00+01:00"  # DST
    # off unless set (tests, the demo); the SYGNE detail lane runs beside it (idle without APLYPRO_SYGNE_*)
    assert [t.__name__ for t in build_spec(StudentsSettings()).background] == ["sygne_details_lane"]
    monkeypatch.setenv("APLYPRO_STUDENTS_IMPORT_HOUR", "2")
    assert [t.__name__ for t in build_spec(StudentsSettings()).background] == ["nightly_import", "sygne_details_lane"]
    monkeypatch.setenv("APLYPRO_STUDENTS_SYGNE_DETAILS_LANE", "false")
    assert [t.__name__ for t in build_spec(StudentsSettings()).background] == ["nightly_import"]


@pytest.fixture
def fake(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSygneServer]:
    with serve(sample_state()) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        assert cli.invoke(app, ["load-establishments", str(DATA / "establishments.csv")]).exit_code == 0
        assert cli.invoke(app, ["load-mefs", str(DATA / "mefs.csv"), "--school-year", "2025"]).exit_code == 0
        yield server


def test_import_all_command_imports_the_sygne_establishments_with_a_summary(cli: CliRunner,
                                                                            fake: FakeSygneServer) -> None:
    none = cli.invoke(app, ["import-all", "--source", "sygne", "--school-year", "2025"])
    assert json.loads(none.stdout.splitlines()[-1])["establishments"] == 0  # every provider is csv at first
    changed = cli.invoke(app, ["set-provider", "0999001k", "sygne", "--user", "u-admin"])
    assert json.loads(changed.stdout)["changed"] == ["0999001K"], changed.output
    # three processes (two helpers) for one establishment: imported once, the helpers end with nothing to do
    result = cli.invoke(app, ["import-all", "--source", "sygne", "--school-year", "2025", "--workers", "3"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.splitlines()[-1])
    assert (out["establishments"], out["done"], out["students"], out["finished"]) == (1, 1, 6, True)
    assert out["stopped"] is None
    # the details are the service's detail lane's (imports.md §9): queued, none fetched by the run
    assert (out["details_queued"], fake.state.requests["detail"]) == (6, 0)
    status = json.loads(cli.invoke(app, ["status"]).stdout)
    assert (status["details_queued"], status["details_given_up"]) == (6, 0)
    assert "0999001K done" in result.stderr  # the progress bar
    assert "FONTAINE" not in result.output
    bad = cli.invoke(app, ["set-provider", "0999001K", "ftp", "--user", "u-admin"])
    assert (bad.exit_code, "provider.invalid" in bad.stderr) == (2, True)
    unknown = cli.invoke(app, ["set-provider", "0999999X", "csv", "--user", "u-admin"])
    assert (unknown.exit_code, "uai.unknown" in unknown.stderr) == (2, True)


async def _outbox_messages(database_url: str) -> int:
    """Messages waiting in the outbox (no relay runs in these tests: every one written is still there)."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": StudentsSettings().db_schema("students")})
    try:
        return int(await conn.fetchval("SELECT count(*) FROM outbox"))
    finally:
        await conn.close()


def test_import_all_counts_the_events_it_really_wrote_to_the_outbox(cli: CliRunner, fake: FakeSygneServer,
                                                                    database_url: str) -> None:
    assert cli.invoke(app, ["set-provider", "0999001K", "sygne", "--user", "u-admin"]).exit_code == 0
    for run in ("first", "again"):  # the same data again: whatever it writes is what it counts
        before = asyncio.run(_outbox_messages(database_url))
        result = cli.invoke(app, ["import-all", "--source", "sygne", "--school-year", "2025"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout.splitlines()[-1])
        written = asyncio.run(_outbox_messages(database_url)) - before
        assert out["events"] == written, run
        if run == "first":  # it used to print `events: 0` (and `new: 0`) whatever it published
            assert (written > 0, out["new"], out["schoolings_written"] > 0) == (True, 6, True), out


def test_import_all_refuses_a_source_that_cannot_run_with_a_clear_message(cli: CliRunner,
                                                                         fake: FakeSygneServer) -> None:
    unknown = cli.invoke(app, ["import-all", "--source", "ftp", "--school-year", "2025"])
    assert unknown.exit_code == 2
    assert "source_unavailable: no ftp importer in this version; available: fregata, sygne" in unknown.stderr
    # FREGATA: its importer absent from this version, or present without its APLYPRO_FREGATA_* settings
    fregata = cli.invoke(app, ["import-all", "--source", "fregata", "--school-year", "2025"])
    assert fregata.exit_code == 2
    assert ("source_unavailable: no fregata importer in this version" in fregata.stderr
            or "source_unavailable: settings missing or invalid: APLYPRO_FREGATA_BASE_URL" in fregata.stderr)


def test_a_mass_departure_fails_its_establishment_until_an_operator_forces_it(cli: CliRunner,
                                                                             fake: FakeSygneServer) -> None:
    assert cli.invoke(app, ["set-provider", "0999001K", "sygne", "--user", "u-admin"]).exit_code == 0
    assert cli.invoke(app, ["import-all", "--school-year", "2025"]).exit_code == 0
    # SYGNE stops listing two of the five open students: 40 %, over the 20 % guard
    fake.state.lists["0999001K", 2025] = [e for e in fake.state.lists["0999001K", 2025]
                                          if e["ine"] not in ("000111222AA", "000111223AB")]
    refused = cli.invoke(app, ["import-all", "--school-year", "2025"])
    assert refused.exit_code == 1, refused.output
    out = json.loads(refused.stdout.splitlines()[-1])
    assert (out["failed"], out["finished"]) == ([{"uai": "0999001K", "reason": "mass_departure"}], False)
    # the operator reviews, then forces that establishment; the open run of the night then finishes
    forced = cli.invoke(app, ["import-sygne", "--uai", "0999001K", "--school-year", "2025", "--mode", "full",
                              "--force-departures"])
    forced_line = json.loads(forced.stdout.splitlines()[-1])  # the shape shared with import-fregata
    assert (forced_line["schoolings_closed"], forced_line["class_changes"]) == (2, 0), forced.output
    again = json.loads(cli.invoke(app, ["import-all", "--school-year", "2025"]).stdout.splitlines()[-1])
    assert (again["done"], again["departures"], again["finished"]) == (1, 0, True)
