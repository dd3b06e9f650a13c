"""`aplypro-students load-establishments` publishes each establishment of the directory as EstablishmentRegistered
(through the outbox, keyed by UAI): pfmp's statistics group by its ministry and contract type (features.md §4)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import EstablishmentRegistered, default_registry
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.cli import app
from typer.testing import CliRunner

from .conftest import DATA

pytestmark = pytest.mark.integration


async def _outbox(database_url: str) -> list[dict[str, Any]]:
    settings = StudentsSettings()
    conn = await asyncpg.connect(database_url, server_settings={"search_path": settings.db_schema("students")})
    try:
        return [dict(r) for r in await conn.fetch("SELECT topic, key, headers, payload FROM outbox ORDER BY id")]
    finally:
        await conn.close()


def test_loading_the_directory_publishes_each_establishment_with_its_ministry_and_contract_type(
        cli: CliRunner, database_url: str) -> None:
    result = cli.invoke(app, ["load-establishments", str(DATA / "establishments.csv")])
    assert result.exit_code == 0, result.output
    rows = asyncio.run(_outbox(database_url))
    assert {r["topic"] for r in rows} == {StudentsSettings().topic(STUDENTS_EVENTS)}
    assert [bytes(r["key"]) for r in rows] == [b"0999001K", b"0999002L"]  # keyed by UAI, in the file's order
    assert {json.loads(r["headers"])["event-type"] for r in rows} == {"EstablishmentRegistered"}
    events = [default_registry().parse(r["payload"]) for r in rows]
    assert all(isinstance(e, EstablishmentRegistered) for e in events)
    facts = [(e.uai, e.name, e.ministry, e.academy_code, e.contract_type_code) for e in events
             if isinstance(e, EstablishmentRegistered)]
    assert facts == [("0999001K", "Lycée professionnel Jean Jaurès", "MENJ", "14", "99"),
                     ("0999002L", "Lycée agricole du Bocage", "MASA", "14", "30")]
    # Only what statistics need: no director's name, e-mail or phone on the topic
    for row in rows:
        assert b"Dupont" not in row["payload"]
        assert b"ac-exemple" not in row["payload"]
    # A second load publishes again (the latest directory wins at the reader)
    assert cli.invoke(app, ["load-establishments", str(DATA / "establishments.csv")]).exit_code == 0
    assert len(asyncio.run(_outbox(database_url))) == 4
