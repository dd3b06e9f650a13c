"""The student API's "not found" for an INE, and "found" again, on the real PostgreSQL: StudentIneStatusChanged
in the outbox, keyed by student id, with no INE anywhere in it (lifecycles.md §4 #2, ine_not_found)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aplypro_contracts import StudentIneStatusChanged, default_registry
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.cli import app
from aplypro_students.service_layer.ine_status import IneStatus, IneSummary, record_ine_status
from typer.testing import CliRunner

from .conftest import DATA, UAI
from .sample_school import sample_school

pytestmark = pytest.mark.integration
INE, OTHER = "000111223AB", "000111226AE"


@pytest.fixture
async def pool(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncpg.Pool]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    async with sample_school(database_url, namespace) as pool:
        yield pool


async def record(pool: asyncpg.Pool, ines: list[str], status: IneStatus) -> IneSummary:
    async with pool.acquire() as conn, conn.transaction():
        return await record_ine_status(conn, ines, status, by="user-42",
                                       topic=StudentsSettings().topic(STUDENTS_EVENTS))


async def ine_events(pool: asyncpg.Pool) -> list[tuple[bytes, StudentIneStatusChanged]]:
    rows = await pool.fetch("SELECT key, headers, payload FROM outbox WHERE headers::text LIKE '%StudentIneStatusChanged%' "
                            "ORDER BY id")
    out = []
    for row in rows:
        for part in (row["key"], str(row["headers"]).encode(), row["payload"].encode()
                     if isinstance(row["payload"], str) else bytes(row["payload"])):
            assert INE.encode() not in part  # personal data never leaves
            assert OTHER.encode() not in part
        event = default_registry().parse(row["payload"])
        assert isinstance(event, StudentIneStatusChanged)
        out.append((row["key"], event))
    return out


async def test_not_found_then_found_again_each_publish_one_versioned_fact(pool: asyncpg.Pool) -> None:
    student_id = await pool.fetchval("SELECT student_id FROM students WHERE ine = $1", INE)
    # The API does not know the INE (lower case as typed: normalised); an unknown INE is only counted.
    assert (await record(pool, [INE.lower(), "999999999ZZ"], "not_found")).as_dict() == {
        "changed": 1, "unchanged": 0, "unknown": 1}
    # Told again: nothing changes, nothing is published.
    assert (await record(pool, [INE], "not_found")).as_dict() == {"changed": 0, "unchanged": 1, "unknown": 0}
    # Found again: the next version.
    assert (await record(pool, [INE], "found")).changed == 1
    events = await ine_events(pool)
    assert [(e.student_id, e.ine_status, e.version) for _, e in events] == [
        (student_id, "not_found", 1), (student_id, "found", 2)]
    assert all(key == str(student_id).encode() for key, _ in events)
    row = await pool.fetchrow("SELECT ine_status, ine_status_by FROM students WHERE ine = $1", INE)
    assert row is not None
    assert tuple(row) == ("ok", "user-42")


def test_the_commands_record_the_status_and_print_counts_only(cli: CliRunner) -> None:
    for args in (["load-establishments", str(DATA / "establishments.csv")],
                 ["load-mefs", str(DATA / "mefs.csv"), "--school-year", "2025"],
                 ["import-csv", str(DATA / "students.csv"), "--uai", UAI]):
        assert cli.invoke(app, args).exit_code == 0
    runs = [(["ine-not-found", INE, OTHER, "--by", "user-42"], {"changed": 2, "unchanged": 0, "unknown": 0}),
            (["ine-found", OTHER, "--by", "sygne-refresh"], {"changed": 1, "unchanged": 0, "unknown": 0}),
            (["ine-not-found", INE, OTHER, "--by", "user-42"], {"changed": 1, "unchanged": 1, "unknown": 0})]
    for args, counts in runs:
        result = cli.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == counts
        assert INE not in result.output  # counts only, never an INE
        assert OTHER not in result.output
