"""A changed establishment (issue 13): the students service re-publishes each schooling as SchoolingChanged
(`changed`: establishment) with the new snapshot. Documents applies it as any schooling change: a DA issued
afterwards prints the new name and address, one issued before stays as it was, an older version is dropped."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts import SchoolingChanged, SchoolingOpened, StudentRegistered
from aplypro_documents.service_layer.issue import DecisionIssuer
from aplypro_documents.service_layer.reissue import request_reissue

from .conftest import (
    SCHOOL,
    UAI,
    Feed,
    documents_of,
    identity_of,
    missing,
    pdf_text,
    priced,
    schooling_opened,
)

pytestmark = pytest.mark.integration

RENAMED = SCHOOL.model_copy(update={"name": "Lycée des métiers de l'Essai", "address_lines": ("5 quai du Rhône",),
                                    "postal_code": "69002", "city_insee": "69382"})


def moved(opened: SchoolingOpened) -> SchoolingChanged:
    """The students service's re-publication: the same state, the new establishment, the next version."""
    state = opened.model_dump(exclude={"event_id", "event_type", "schema_version", "occurred_at"})
    return SchoolingChanged(**{**state, "establishment": RENAMED, "version": opened.version + 1},
                            changed=("establishment",))


async def test_a_da_issued_after_the_change_prints_the_new_establishment_the_one_before_stays(
    feed: Feed, issuer: DecisionIssuer, pool: asyncpg.Pool
) -> None:
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    opened = schooling_opened(student_id, schooling_id, start=date(2025, 9, 1))
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id,
                                 identity=identity_of("Lambert", "Inès")), opened, priced(student_id, schooling_id))
    assert await issuer.issue_batch() == 1
    (v1,) = await documents_of(pool, schooling_id)

    await feed(moved(opened))
    assert await issuer.issue_batch() == 0  # a change reissues nothing by itself: the director decides
    assert await documents_of(pool, schooling_id) == [v1]
    request = await request_reissue(pool, uai=UAI, school_year=2025, schooling_id=schooling_id)
    assert request.queued == [schooling_id]
    assert await issuer.issue_batch() == 1

    old, new = await documents_of(pool, schooling_id)
    assert (old, new["version"]) == (v1, 2)
    old_text, new_text = pdf_text(old["storage_ref"]), pdf_text(new["storage_ref"])
    assert not missing(new_text, "Lycée des métiers de l'Essai", "5 quai du Rhône")
    assert "Lycée professionnel de test" not in new_text
    assert not missing(old_text, "Lycée professionnel de test", "3 rue de l'Essai")  # an issued DA never changes
    assert Path(old["storage_ref"]).is_file()


async def test_a_new_schoolings_first_da_prints_the_new_establishment_and_an_older_version_is_dropped(
    feed: Feed, issuer: DecisionIssuer, pool: asyncpg.Pool
) -> None:
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    opened = schooling_opened(student_id, schooling_id, start=date(2025, 9, 1))
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id,
                                 identity=identity_of("Garnier", "Lou")), moved(opened))
    await feed(opened)  # the older version, read late: dropped
    assert await pool.fetchval("SELECT establishment->>'name' FROM schoolings WHERE schooling_id = $1",
                               schooling_id) == "Lycée des métiers de l'Essai"
    assert {r["event_type"]: r["dropped"] for r in await pool.fetch("SELECT * FROM stale_events")} == {
        "SchoolingOpened": 1}
    await feed(priced(student_id, schooling_id))
    assert await issuer.issue_batch() == 1
    (da,) = await documents_of(pool, schooling_id)
    assert not missing(pdf_text(da["storage_ref"]), "Lycée des métiers de l'Essai", "5 quai du Rhône")
