"""PDF storage: the local filesystem, and an S3-compatible server (moto's, on a loopback port) started here."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pypdf
import pytest
from aplypro_contracts.topics import DOCUMENTS_EVENTS
from aplypro_documents.adapters.storage import (
    LocalStorage,
    MissingObjectError,
    S3Storage,
    s3_client,
    storage_from_settings,
)
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.service_layer.render import IssueThenRender

from .conftest import announced


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    # moto[server] is in aplypro-documents' dev group, which a plain root `uv sync` does not install.
    moto_server = pytest.importorskip("moto.server", reason="moto[server] missing: uv sync --all-packages")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_settings(endpoint: str, bucket: str, **values: Any) -> DocumentsSettings:
    return DocumentsSettings(storage_backend="s3", s3_endpoint_url=endpoint, s3_bucket=bucket,
                             s3_access_key="test", s3_secret_key="test", **values)  # fmt: skip


def fresh_bucket() -> str:
    return f"docs-{uuid.uuid4().hex[:12]}"  # each test its own bucket, nothing to clean up


def one_page_pdf(text: str) -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_settings_choose_the_local_filesystem_by_default(tmp_path: Path) -> None:
    storage = storage_from_settings(DocumentsSettings(storage_dir=tmp_path))
    assert isinstance(storage, LocalStorage)
    stored = storage.put("0690001A/2025/attribution/X.pdf", b"%PDF-local")
    assert storage.get(stored.ref) == b"%PDF-local"
    assert stored.sha256 == hashlib.sha256(b"%PDF-local").hexdigest()
    assert stored.size_bytes == 10


def test_local_storage_reads_nothing_outside_its_root(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("not a document")
    storage = LocalStorage(tmp_path / "documents")
    with pytest.raises(MissingObjectError):
        storage.get(str(tmp_path / "secret.txt"))
    with pytest.raises(MissingObjectError):
        storage.get(str(tmp_path / "documents" / "never-stored.pdf"))


def test_an_s3_put_creates_the_missing_bucket_and_reads_back_the_same_bytes(s3_endpoint: str) -> None:
    bucket = fresh_bucket()
    storage = storage_from_settings(s3_settings(s3_endpoint, bucket, s3_region="eu-west-3"))
    assert isinstance(storage, S3Storage)
    data = one_page_pdf("round trip")

    stored = storage.put("0690001A/2025/attribution/ENPUABCDEFGHIJ20251.pdf", data)

    assert stored.ref == f"s3://{bucket}/0690001A/2025/attribution/ENPUABCDEFGHIJ20251.pdf"
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size_bytes == len(data)
    assert storage.get(stored.ref) == data
    # The server holds it as a PDF, with the checksum beside it.
    head = s3_client(s3_settings(s3_endpoint, bucket)).head_object(
        Bucket=bucket, Key="0690001A/2025/attribution/ENPUABCDEFGHIJ20251.pdf")  # fmt: skip
    assert head["ContentType"] == "application/pdf"
    assert head["Metadata"] == {"sha256": stored.sha256}


def test_a_second_instance_uses_the_bucket_the_first_one_created(s3_endpoint: str) -> None:
    bucket = fresh_bucket()
    first = storage_from_settings(s3_settings(s3_endpoint, bucket))
    second = storage_from_settings(s3_settings(s3_endpoint, bucket))
    ref = first.put("a.pdf", b"%PDF-first").ref
    assert second.put("b.pdf", b"%PDF-second").ref == f"s3://{bucket}/b.pdf"
    assert second.get(ref) == b"%PDF-first"


def test_an_unknown_or_foreign_s3_reference_is_a_missing_object(s3_endpoint: str) -> None:
    bucket = fresh_bucket()
    storage = storage_from_settings(s3_settings(s3_endpoint, bucket))
    storage.put("present.pdf", b"%PDF-x")
    with pytest.raises(MissingObjectError):
        storage.get(f"s3://{bucket}/absent.pdf")
    with pytest.raises(MissingObjectError):
        storage.get("s3://another-bucket/present.pdf")


@pytest.mark.integration
async def test_a_decision_batch_is_stored_in_s3_and_recorded_with_its_checksum(
    s3_endpoint: str, pool: asyncpg.Pool, enrol: Any, namespace: str
) -> None:
    # Three students queued for their DA, on the real PostgreSQL.
    schoolings = [(await enrol(name, "Léa", "TLE PRO MODE"))[1] for name in ("Martin", "Bernard", "Petit")]
    bucket = fresh_bucket()
    settings = s3_settings(s3_endpoint, bucket, APLYPRO_TOPIC_NAMESPACE=namespace)
    storage = storage_from_settings(settings)

    def fake_render(payloads: list[dict[str, Any]]) -> list[bytes]:
        # Small valid PDFs that name their decision: rendering itself is tested elsewhere.
        return [one_page_pdf(payload["content"]["number"]) for payload in payloads]

    issuer = IssueThenRender(pool=pool, storage=storage, executor=None, topic=settings.topic(DOCUMENTS_EVENTS),
                            batch_size=10, attempts=3, render=fake_render)
    assert await issuer.issue_batch() == 3

    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT schooling_id, number, storage_ref, sha256, size_bytes FROM documents")
    assert sorted(r["schooling_id"] for r in rows) == sorted(schoolings)
    assert len(await announced(pool)) == 3  # one DocumentReady each, carrying the reference, never the bytes
    for row in rows:
        assert row["storage_ref"] == f"s3://{bucket}/0690001A/2025/attribution/{row['number']}.pdf"
        pdf = storage.get(row["storage_ref"])
        assert hashlib.sha256(pdf).hexdigest() == row["sha256"]
        assert len(pdf) == row["size_bytes"]
        metadata = pypdf.PdfReader(io.BytesIO(pdf)).metadata
        assert metadata is not None
        assert metadata.title == row["number"]
