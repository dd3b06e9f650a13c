"""A changed establishment (issue 13): the students service re-publishes each schooling as SchoolingChanged
(`changed`: establishment). pfmp applies it as any schooling change and keeps what it keeps of the establishment:
its directory row (statistics) and the fingerprint of what a DA prints, so a DA issued before the change is
marked for reissue (documents.md §6). An older version is dropped and undoes neither."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from aplypro_contracts import (
    DocumentReady,
    Establishment,
    Identity,
    Mef,
    SchoolingChanged,
    SchoolingOpened,
    StudentRegistered,
)
from aplypro_pfmp.adapters import decision_content_sql
from aplypro_pfmp.service_layer import facts, projection

pytestmark = pytest.mark.integration
T0 = datetime(2025, 9, 1, 8, tzinfo=UTC)
OLD = Establishment(uai="0999001K", name="LP test", address_lines=("1 rue de l'École",), postal_code="35000")
NEW = OLD.model_copy(update={"name": "Lycée des métiers de test", "city_insee": "35238"})


async def test_a_changed_establishment_marks_the_da_for_reissue_and_an_older_version_is_dropped(
        pool: asyncpg.Pool) -> None:
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    opened = SchoolingOpened(
        producer="students", schooling_id=schooling_id, student_id=student_id, establishment=OLD,
        class_label="TLE PRO", school_year=2025, start_date=date(2025, 9, 1), version=1, occurred_at=T0,
        mef=Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ"))
    state = opened.model_dump(exclude={"event_id", "event_type", "schema_version", "occurred_at"})
    changed = SchoolingChanged(**{**state, "establishment": NEW, "version": 2}, changed=("establishment",),
                               occurred_at=T0 + timedelta(days=2))
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_student_registered(conn, StudentRegistered(
            producer="students", student_id=student_id, version=1, occurred_at=T0,
            identity=Identity(ine="123456789AB", last_name="PERIME", first_names=("Nora",),
                              birth_date=date(2008, 3, 4))))
        await projection.on_schooling_opened(conn, opened)
        await facts.on_document(conn, DocumentReady(
            producer="documents", document_id=uuid.uuid4(), kind="attribution", schooling_id=schooling_id,
            student_id=student_id, number="ENPUK7Q2M9X4TB20251", version=1, storage_ref="x.pdf", sha256="0" * 64,
            size_bytes=1, occurred_at=T0 + timedelta(days=1)))
        assert await decision_content_sql.stale(conn, [schooling_id]) == {}

        await projection.on_schooling_opened(conn, changed)
        await projection.on_schooling_opened(conn, opened.model_copy(update={"event_id": uuid.uuid4()}))  # late
        assert await decision_content_sql.stale(conn, [schooling_id]) == {schooling_id: ("training",)}
    assert await pool.fetchval("SELECT version FROM schoolings WHERE schooling_id = $1", schooling_id) == 2
    assert await pool.fetchval("SELECT name FROM establishments WHERE uai = $1", OLD.uai) == NEW.name
    assert await pool.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'SchoolingOpened'") == 1
