"""A render that fails is retried, then dead-lettered with its reason: never lost (the document stays issued and
unrendered, shown as given up), never blocking others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts.topics import DOCUMENTS_EVENTS
from aplypro_documents.adapters.storage import LocalStorage
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.service_layer.render import IssueThenRender

pytestmark = pytest.mark.integration


def crashing_render(payloads: list[dict[str, Any]]) -> list[bytes]:
    raise RuntimeError("the renderer crashed")


async def test_a_failing_render_is_retried_then_dead_lettered_with_its_reason(
    pool: asyncpg.Pool, enrol: Any, namespace: str, tmp_path: Path
) -> None:
    # Narrated: one student queued for a DA, a renderer that always crashes, two attempts allowed.
    _, schooling_id = await enrol("Martin", "Léa", "TLE PRO MODE")
    settings = DocumentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace, storage_dir=tmp_path / "documents")
    issuer = IssueThenRender(pool=pool, storage=LocalStorage(settings.storage_dir), executor=None,
                            topic=settings.topic(DOCUMENTS_EVENTS),
                            batch_size=10, attempts=2, render=crashing_render)
    assert await issuer.issue_batch() == 1  # issued; its render fails
    async with pool.acquire() as conn:
        # First failure: issued and unrendered, the attempt counted, nothing dead-lettered yet.
        assert await conn.fetchval("SELECT render_attempts FROM documents WHERE schooling_id = $1", schooling_id) == 1
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic LIKE '%.dlt'") == 0
    assert await issuer.renderer.render_batch() == 0
    async with pool.acquire() as conn:
        given_up = await conn.fetchval("SELECT render_given_up_at IS NOT NULL FROM documents "
                                       "WHERE schooling_id = $1 AND sha256 IS NULL", schooling_id)
        dead = await conn.fetch("SELECT topic, payload, headers FROM outbox WHERE topic LIKE '%.dlt'")
    # Second failure: given up (kept, unrendered, until `rerender`), into the dead-letter topic with the reason.
    assert given_up
    assert await issuer.renderer.render_batch() == 0  # not tried again by itself
    assert len(dead) == 1
    assert dead[0]["topic"] == f"{settings.topic(DOCUMENTS_EVENTS)}.dlt"
    assert str(schooling_id) in dead[0]["payload"].decode()
    assert '"dlt-attempts": "2"' in dead[0]["headers"]
    assert "RuntimeError" in dead[0]["headers"]
