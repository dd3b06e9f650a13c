"""Issue, then render (issue 12): the frozen rendering input (names, address, IBAN) is kept only until the PDF
is stored. The render's transaction clears it; every later use reads something else: a download serves the
stored PDF, an unchanged reissue compares the input hash, `rerender` takes only documents never rendered."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts import StudentRegistered
from aplypro_documents.adapters.storage import LocalStorage
from aplypro_documents.entrypoints.cli import app
from aplypro_documents.service_layer import downloads
from aplypro_documents.service_layer.reissue import request_reissue
from aplypro_documents.service_layer.render import IssueThenRender
from aplypro_servicekit.db import migrate
from typer.testing import CliRunner

from .conftest import (
    IBAN,
    UAI,
    Enrol,
    Feed,
    documents_of,
    identity_of,
    payment,
    pdf_text,
    pfmp_validated,
    priced,
    rib,
    schooling_opened,
)

pytestmark = pytest.mark.integration
NAME = "Garnier-Fictif"
MIGRATION = "aplypro_documents:0008_render_payload_cleared.sql"


async def payloads(pool: asyncpg.Pool, schooling_id: uuid.UUID) -> dict[str, str | None]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT kind, render_payload FROM documents WHERE schooling_id = $1", schooling_id)
    return {r["kind"]: r["render_payload"] for r in rows}


async def test_the_render_clears_the_personal_rendering_input_and_every_later_use_still_works(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool, tmp_path: Path, database_url: str, namespace: str
) -> None:
    student_id, schooling_id, pfmp_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id,
                                 identity=identity_of(NAME, "Inès")),
               schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)), priced(student_id, schooling_id),
               rib(student_id))  # fmt: skip
    # Issued, not rendered yet: the renderer's only input is the frozen payload, names included.
    assert await issuer.issuer.issue_batch() == 1
    assert NAME in str((await payloads(pool, schooling_id))["attribution"])

    while await issuer.renderer.render_batch():
        pass
    [da] = await documents_of(pool, schooling_id)
    assert da["sha256"] is not None
    assert da["render_payload"] is None  # cleared in the render's transaction

    # The état liquidatif prints the IBAN: its payload goes the same way once rendered.
    await feed(pfmp_validated(student_id, schooling_id, pfmp_id, 1, date(2025, 10, 6), date(2025, 10, 17)),
               payment(student_id, schooling_id, pfmp_id, 1, 15000))
    assert await issuer.issuer.issue_batch() == 1
    assert IBAN in str((await payloads(pool, schooling_id))["liquidation"])
    while await issuer.renderer.render_batch():
        pass
    assert await payloads(pool, schooling_id) == {"attribution": None, "liquidation": None}
    async with pool.acquire() as conn:
        kept = await conn.fetchval("SELECT count(*) FROM documents WHERE render_payload::text LIKE '%' || $1 || '%' "
                                   "OR render_payload::text LIKE '%' || $2 || '%'", NAME, IBAN)
    assert kept == 0

    # Every download serves the stored PDF, checked against its recorded sha256.
    storage = LocalStorage(tmp_path / "documents")
    for document in await documents_of(pool, schooling_id):
        got = await downloads.fetch(pool, storage, document["document_id"])
        assert got.data == Path(document["storage_ref"]).read_bytes()
    assert NAME.upper() in pdf_text(da["storage_ref"]).upper()

    # An unchanged reissue compares the input hash, not the payload: skipped, nothing new.
    queued = await request_reissue(pool, uai=UAI, school_year=2025, schooling_id=schooling_id)
    assert queued.queued == [schooling_id]
    assert await issuer.issue_batch() == 1
    assert issuer.unchanged == 1
    assert [(d["kind"], d["version"]) for d in await documents_of(pool, schooling_id)] == [
        ("attribution", 1), ("liquidation", 1)]

    # `rerender` of a rendered document: nothing to do, said so, and the document is left as it was.
    before = await documents_of(pool, schooling_id)
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}
    result = await asyncio.to_thread(CliRunner().invoke, app, ["rerender", "--document", str(da["document_id"])],
                                     env=env)
    assert result.exit_code == 1
    assert "not given up (rendered, still rendering, or unknown)" in result.output
    assert await documents_of(pool, schooling_id) == before
    assert await issuer.renderer.render_batch() == 0
    assert (await downloads.fetch(pool, storage, da["document_id"])).data == Path(da["storage_ref"]).read_bytes()


async def test_migration_0008_clears_the_input_of_documents_rendered_before_and_keeps_the_unrendered(
    enrol: Enrol, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    for name in ("Martin", "Petit"):
        await enrol(name, "Léa", "TLE PRO MODE")
    assert await issuer.issuer.issue_batch() == 2  # issued, neither rendered: both keep their input
    async with pool.acquire() as conn:
        # One of them rendered by the code before this change: PDF recorded, its input kept.
        rendered = await conn.fetchval(
            "UPDATE documents SET storage_ref = 'old/a.pdf', sha256 = repeat('0', 64), size_bytes = 1000, "
            "rendered_at = now() WHERE document_id = (SELECT min(document_id::text)::uuid FROM documents) "
            "RETURNING document_id")
        await conn.execute("DELETE FROM schema_migrations WHERE name = $1", MIGRATION)
    assert await migrate(pool, "documents", ["aplypro_documents"]) == [MIGRATION]
    async with pool.acquire() as conn:
        rows = {r["document_id"]: r["render_payload"] for r in await conn.fetch(
            "SELECT document_id, render_payload FROM documents")}
    assert rows.pop(rendered) is None
    [unrendered] = rows.values()
    assert unrendered is not None  # still to render: its only input
