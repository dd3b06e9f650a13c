"""A changed establishment reaches every schooling reader (issue 13): `load-establishments` re-publishes each
schooling of an establishment whose directory row changed what schooling events carry of it, as SchoolingChanged
(`changed`: establishment) with the new snapshot and the schooling's next version; exactly once, in chunks."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import SchoolingChanged, default_registry
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_students.adapters.csv_reference import read_establishments_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.reference import Establishment, snapshot_changed
from aplypro_students.entrypoints.cli import app
from aplypro_students.service_layer.reference import load_establishments
from aplypro_students.service_layer.republish_schoolings import republish_chunk
from typer.testing import CliRunner

from .conftest import DATA, UAI
from .sample_school import sample_school

WriteCsv = Callable[..., Path]
HEADER = (DATA / "establishments.csv").read_text(encoding="utf-8").splitlines()[0]
JAURES, BOCAGE = (DATA / "establishments.csv").read_text(encoding="utf-8").splitlines()[1:3]
RENAMED = JAURES.replace("Lycée professionnel Jean Jaurès", "Lycée des métiers Jean Jaurès")


def test_only_a_stored_establishment_whose_snapshot_changes_is_changed() -> None:
    stored = Establishment("0999001K", "LP Jean Jaurès", city="RENNES", city_insee="35238")
    assert not snapshot_changed(None, stored)  # new: no schooling carries it yet
    assert not snapshot_changed(stored, stored)
    assert not snapshot_changed(stored, Establishment("0999001K", "LP Jean Jaurès", city="RENNES"))  # code kept
    for field, value in (("name", "LDM Jean Jaurès"), ("head_name", "M. Paul Martin"), ("city_insee", "35047"),
                         ("address_lines", ("2 rue de l'École",)), ("contract_type_code", "30")):
        assert snapshot_changed(stored, Establishment(**{**stored.__dict__, field: value})), field


async def _schooling_events(pool: asyncpg.Pool) -> list[SchoolingChanged]:
    rows = await pool.fetch("SELECT headers, payload FROM outbox ORDER BY id")
    events = [default_registry().parse(r["payload"]) for r in rows
              if json.loads(r["headers"])["event-type"] != "EstablishmentRegistered"]
    assert all(isinstance(e, SchoolingChanged) for e in events), [e.event_type for e in events]
    return [e for e in events if isinstance(e, SchoolingChanged)]


async def _versions(pool: asyncpg.Pool) -> dict[uuid.UUID, int]:
    return {r["schooling_id"]: r["version"] for r in await pool.fetch("SELECT schooling_id, version FROM schoolings")}


async def _load(cli: CliRunner, path: Path) -> dict[str, Any]:
    """The command, in a thread: it runs its own event loop."""
    result = await asyncio.to_thread(cli.invoke, app, ["load-establishments", str(path)])
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


@pytest.mark.integration
async def test_a_changed_establishment_republishes_each_schooling_readers_use_exactly_once(
        cli: CliRunner, database_url: str, namespace: str, write_csv: WriteCsv,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APLYPRO_STUDENTS_ESTABLISHMENT_REPUBLISH_CHUNK", "1")  # one schooling per transaction
    monkeypatch.setenv("APLYPRO_STUDENTS_ESTABLISHMENT_REPUBLISH_YEARS", "100")  # the sample's 2025, whatever today
    async with sample_school(database_url, namespace) as pool:
        ids = [r["schooling_id"] for r in await pool.fetch("SELECT schooling_id FROM schoolings ORDER BY start_date, "
                                                             "schooling_id")]
        assert len(ids) == 3
        hidden, retracted = ids[1], ids[2]
        await pool.execute("UPDATE schoolings SET hidden_at = now() WHERE schooling_id = ANY($1::uuid[])",
                           [hidden, retracted])
        await pool.execute("UPDATE schoolings SET retracted_at = now() WHERE schooling_id = $1", retracted)
        before = await _versions(pool)

        summary = await _load(cli, write_csv(HEADER, RENAMED, BOCAGE))
        assert (summary["changed"], summary["schoolings_republished"]) == (1, 2)
        events = await _schooling_events(pool)
        assert sorted(e.schooling_id for e in events) == sorted([ids[0], hidden])  # hidden included, not retracted
        for event in events:
            assert event.changed == ("establishment",)
            assert event.establishment.name == "Lycée des métiers Jean Jaurès"
            assert event.establishment.head_name == "Mme Claire Dupont"  # the full snapshot, not only what changed
            assert event.version == before[event.schooling_id] + 1
        assert await _versions(pool) == {**before, ids[0]: before[ids[0]] + 1, hidden: before[hidden] + 1}

        # The same file again: nothing changed, no schooling event (EstablishmentRegistered still goes out)
        assert (await _load(cli, write_csv(HEADER, RENAMED, BOCAGE)))[
            "schoolings_republished"] == 0
        # A file that changes nothing of the snapshot: without the city_insee column, the stored code stays
        await pool.execute("UPDATE establishments SET city_insee = '35238' WHERE uai = $1", UAI)
        assert (await _load(cli, write_csv(HEADER, RENAMED, BOCAGE)))[
            "changed"] == 0
        assert len(await _schooling_events(pool)) == 2
        assert await pool.fetchval("SELECT count(*) FROM establishment_republish") == 0


@pytest.mark.integration
async def test_a_load_interrupted_between_chunks_is_finished_by_the_next_one(
        database_url: str, namespace: str) -> None:
    settings = StudentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace, DATABASE_URL=database_url)
    topic = settings.topic(STUDENTS_EVENTS)
    renamed = [*read_establishments_csv(DATA / "establishments.csv")]
    renamed[0] = Establishment(**{**renamed[0].__dict__, "name": "Lycée des métiers Jean Jaurès"})
    async with sample_school(database_url, namespace) as pool:
        async with pool.acquire() as conn:
            async with conn.transaction():
                assert (await load_establishments(conn, renamed, topic=topic)).changed == 1
            async with conn.transaction():
                assert await republish_chunk(conn, topic, 2025, limit=2, correlation_id=uuid.uuid4()) == 2
            # the process dies here; the next load (same file) goes on from the third schooling
            async with conn.transaction():
                assert (await load_establishments(conn, renamed, topic=topic)).changed == 0
            async with conn.transaction():
                assert await republish_chunk(conn, topic, 2025, limit=2, correlation_id=uuid.uuid4()) == 1
            async with conn.transaction():
                assert await republish_chunk(conn, topic, 2025, limit=2, correlation_id=uuid.uuid4()) == 0
        events = await _schooling_events(pool)
        assert len(events) == len({e.schooling_id for e in events}) == 3  # each once
        assert all(e.version == 2 for e in events)


@pytest.mark.integration
async def test_schoolings_of_older_school_years_are_left_as_they_are(database_url: str, namespace: str) -> None:
    settings = StudentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace, DATABASE_URL=database_url)
    topic = settings.topic(STUDENTS_EVENTS)
    renamed = [*read_establishments_csv(DATA / "establishments.csv")]
    renamed[0] = Establishment(**{**renamed[0].__dict__, "name": "Lycée des métiers Jean Jaurès"})
    async with sample_school(database_url, namespace) as pool:
        async with pool.acquire() as conn, conn.transaction():
            await load_establishments(conn, renamed, topic=topic)
            # the sample's schoolings are of 2025: a window starting in 2026 leaves them
            assert await republish_chunk(conn, topic, 2026, limit=100, correlation_id=uuid.uuid4()) == 0
        assert await _schooling_events(pool) == []
