"""A changed establishment (issue 13): the students service re-publishes each schooling as SchoolingChanged
(`changed`: establishment). The gateway applies it as any schooling change: its next payment file carries the
new commune code of the establishment (the ASP address of a student living abroad), and an older version is
dropped."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import (
    Address,
    Establishment,
    Identity,
    SchoolingChanged,
    SchoolingOpened,
    StudentRegistered,
)
from lxml import etree

from .conftest import MEF, NS, UAI, VERSIONS, add_rib, feed, issue_decision, request

pytestmark = pytest.mark.integration

OLD = Establishment(uai=UAI, name="LP test", postal_code="35000")  # the directory had no commune code yet
NEW = OLD.model_copy(update={"city_insee": "35238"})


async def test_the_next_file_carries_the_new_commune_code_and_an_older_version_is_dropped(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    identity = Identity(ine="000000009AB", last_name="ZORGLUB", first_names=("Léa",), birth_date=date(2008, 3, 14),
                        sex="female", birth_city_insee="35238", birth_country_insee="99100",
                        address=Address(lines=("Rue de Carouge 24",), postal_code="1205", city_name="Genève",
                                        country_insee="99140"))
    opened = SchoolingOpened(producer="students", schooling_id=schooling_id, student_id=student_id, establishment=OLD,
                             class_label="TLE PRO MELEC", school_year=2025, mef=MEF, start_date=date(2025, 9, 1),
                             version=next(VERSIONS))
    await feed(pool, projection.on_student_registered,
               StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity))
    await feed(pool, projection.on_schooling_opened, opened)
    await add_rib(pool, student_id, 0)
    await issue_decision(pool, student_id, schooling_id)
    event = request(student_id, schooling_id)
    await feed(pool, projection.on_payment_requested, event)
    assert (await build_payment_file(pool, options)).records == 0  # abroad, and no school commune code: held

    state = opened.model_dump(exclude={"event_id", "event_type", "schema_version", "occurred_at"})
    await feed(pool, projection.on_schooling_opened, SchoolingChanged(
        **{**state, "establishment": NEW, "version": opened.version + 1}, changed=("establishment",)))
    await feed(pool, projection.on_schooling_opened, opened.model_copy(update={"event_id": uuid.uuid4()}))  # late
    assert await pool.fetchval("SELECT establishment_city_insee FROM schoolings WHERE schooling_id = $1",
                               schooling_id) == "35238"
    assert await pool.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'SchoolingOpened'") == 1

    result = await build_payment_file(pool, options)
    assert (result.records, result.blocked) == (1, 0)
    [path] = sorted(options.outbox_dir.glob("*.xml"))
    [address, _] = etree.fromstring(path.read_bytes()).findall(".//f:ADRESSE", NS)
    assert [(c.tag.split("}")[1], c.text) for c in address] == [
        ("CODETYPEADR", "PRINCIPALE"), ("CODECOMINSEE", "35238"), ("CODEPOSTALCEDEX", "35000"),
        ("CODEINSEEPAYS", "99100")]
