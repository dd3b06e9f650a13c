"""The renderer is off every payment's path (issue 12): a DA exists from its issue (DocumentIssued), so pfmp
validates, the calculator hands the request over and the asp-gateway puts the DA number in a payment file while
no PDF is stored. The five services run as real processes on the real broker and database; the documents
service's storage is broken (its directory lies under a plain file), so every render fails."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts import default_registry
from aplypro_contracts.topics import DOCUMENTS_EVENTS
from aplypro_local.demo import run_school
from aplypro_local.school import generate_school
from aplypro_local.stack import LocalStack
from aplypro_local.testing import read_topic
from lxml import etree

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
NS = {"f": "http://www.cnasea.fr/fichier"}


async def stored_and_sent(stack: LocalStack) -> tuple[int, set[str], set[str]]:
    """(PDFs stored, the DA numbers documents issued, the DA numbers in the gateway's payment files)."""
    conn = await asyncpg.connect(stack.env["DATABASE_URL"])
    try:
        documents, gateway = f"{stack.schema_prefix}documents", f"{stack.schema_prefix}asp_gateway"
        stored = await conn.fetchval(f"SELECT count(*) FROM {documents}.documents WHERE sha256 IS NOT NULL")
        issued = {r["number"] for r in await conn.fetch(
            f"SELECT number FROM {documents}.documents WHERE kind = 'attribution'")}
        files = [r["content"] for r in await conn.fetch(f"SELECT content FROM {gateway}.asp_files")]
    finally:
        await conn.close()
    sent = {e.text or "" for content in files for e in etree.fromstring(content).iterfind(".//f:DOSSIER/f:NUMADM", NS)}
    return int(stored), issued, sent


def test_payments_leave_with_the_da_numbers_while_no_pdf_is_rendered(service_env: dict[str, str],
                                                                    tmp_path: Path) -> None:
    plain_file = tmp_path / "not-a-directory"
    plain_file.write_text("")
    stack = LocalStack(tmp_path, extra_env={**service_env, "APLYPRO_ASP_BUILD_INTERVAL_S": "0.5",
                                            "APLYPRO_DOCUMENTS_STORAGE_DIR": str(plain_file / "documents")})
    stack.start_servers()
    stack.start_all()
    try:
        run = run_school(stack, generate_school(tmp_path / "school", students_per_class=2), timeout=150)
        stored, issued, sent = asyncio.run(stored_and_sent(stack))
        namespace = service_env["APLYPRO_TOPIC_NAMESPACE"]
        registry = default_registry()
        announced = [registry.parse(r.value).event_type for r in asyncio.run(
            read_topic(stack.env["KAFKA_BOOTSTRAP_SERVERS"], namespace + DOCUMENTS_EVENTS, idle_s=2))]
        alive = stack.alive()
    finally:
        stack.stop()
    assert all(alive.values()), alive
    assert run.figures["requests_sent"] > 0
    # No PDF stored or announced: every payment left before any render.
    assert stored == 0
    assert "DocumentReady" not in announced
    assert "DocumentIssued" in announced
    assert sent
    assert sent <= issued  # each file's DOSSIER/NUMADM is a DA number documents issued
