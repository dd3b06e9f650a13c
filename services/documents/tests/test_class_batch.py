"""Per-class download and the student's current DA, from the real PostgreSQL, through the CLI."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pypdf
import pytest
from aplypro_contracts import Establishment
from aplypro_contracts.topics import DOCUMENTS_EVENTS
from aplypro_documents.adapters import postgres
from aplypro_documents.adapters.storage import LocalStorage
from aplypro_documents.entrypoints.cli import app
from aplypro_documents.rendering import render_one
from aplypro_documents.service_layer.class_batch import (
    BatchEntry,
    CorruptObjectError,
    EmptyBatchError,
    class_list_order,
    write_batch,
)
from aplypro_documents.service_layer.issue import attribution_from
from aplypro_documents.service_layer.render import IssueThenRender
from typer.testing import CliRunner, Result

from .conftest import UAI, settings_for


def page_text(page: pypdf.PageObject) -> str:
    return " ".join(page.extract_text().replace("\u00a0", " ").split())


def bookmarks(reader: pypdf.PdfReader) -> list[pypdf.generic.Destination]:
    """The merged PDF's bookmarks: one per decision, none nested (pypdf types the outline as a tree)."""
    flat = [item for item in reader.outline if isinstance(item, pypdf.generic.Destination)]
    assert len(flat) == len(reader.outline)
    return flat


async def invoke(args: list[str], env: dict[str, str]) -> Result:
    # The CLI runs its own event loop (asyncio.run): give it a thread of its own.
    return await asyncio.to_thread(CliRunner().invoke, app, args, env=env)


@pytest.fixture
async def issued(
    pool: asyncpg.Pool, enrol: Any, database_url: str, namespace: str, tmp_path: Path
) -> dict[str, Any]:
    """Four DAs of one establishment in two classes, rendered for real; one of them reissued as version 2."""
    students = {
        "DURAND Hugo": await enrol("Durand", "Hugo", "TLE PRO MODE"),
        "PETIT Zoé": await enrol("Petit", "Zoé", "TLE PRO MODE"),
        "ÉLUARD Anaïs": await enrol("Éluard", "Anaïs", "TLE PRO MODE"),  # sorts between D and P
        "MARTIN Léa": await enrol("Martin", "Léa", "CAP CUISINE"),
    }
    # Neither another establishment nor another year belongs in the batch.
    await enrol("Autre", "Lycée", "TLE PRO MODE", school=Establishment(uai="0690002B", name="Autre lycée"))
    await enrol("Autre", "Année", "TLE PRO MODE", school_year=2024)
    settings = settings_for(namespace, storage_dir=tmp_path / "documents")
    storage = LocalStorage(settings.storage_dir)
    issuer = IssueThenRender(pool=pool, storage=storage, executor=None, topic=settings.topic(DOCUMENTS_EVENTS), batch_size=50, attempts=3)
    assert await issuer.issue_batch() == 6

    # Reissue Petit's DA: version 2 becomes the current one, version 1 stays stored (documents.md §6).
    reissued = students["PETIT Zoé"][1]
    async with pool.acquire() as conn:
        inputs = await postgres.attribution_inputs(conn, reissued)
        assert inputs is not None
        decision = attribution_from(inputs, date.today(), version=2)
        stored = storage.put(f"{UAI}/2025/attribution/{decision.number}.pdf", render_one(decision))
        await postgres.record_document(conn, {
            "document_id": uuid.uuid4(), "kind": "attribution", "schooling_id": reissued, "number": decision.number,
            "version": 2, "storage_ref": stored.ref, "sha256": stored.sha256, "size_bytes": stored.size_bytes})
        numbers = {name: await conn.fetchval(
            "SELECT number FROM documents WHERE schooling_id = $1 ORDER BY version DESC LIMIT 1", schooling_id)
            for name, (_, schooling_id) in students.items()}  # fmt: skip
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace,
           "APLYPRO_DOCUMENTS_STORAGE_DIR": str(settings.storage_dir)}  # fmt: skip
    return {"students": students, "numbers": numbers, "env": env, "reissued": reissued,
            "v2": decision.number}  # fmt: skip


@pytest.mark.integration
async def test_a_class_batch_zips_each_current_da_and_merges_them_in_class_list_order(
    issued: dict[str, Any], tmp_path: Path
) -> None:
    out_zip, out_pdf = tmp_path / "out" / "class.zip", tmp_path / "out" / "class.pdf"
    result = await invoke(["class-batch", "--uai", UAI, "--school-year", "2025", "--class-label", "TLE PRO MODE",
                           "--zip", str(out_zip), "--merged", str(out_pdf)], issued["env"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 décisions" in result.stdout

    # The zip holds one PDF per student, named by the current DA number (Petit's version 2).
    class_order = ["DURAND Hugo", "ÉLUARD Anaïs", "PETIT Zoé"]
    expected = {f"{issued['numbers'][name]}.pdf" for name in class_order}
    assert issued["v2"] == issued["numbers"]["PETIT Zoé"]
    with zipfile.ZipFile(out_zip) as archive:
        assert set(archive.namelist()) == expected
        singles = {name: archive.read(f"{issued['numbers'][name]}.pdf") for name in class_order}
    assert all(pdf.startswith(b"%PDF-") for pdf in singles.values())

    # The merged PDF has every page of the three decisions, in class-list order, one bookmark each.
    merged = pypdf.PdfReader(out_pdf)
    page_counts = [len(pypdf.PdfReader(io.BytesIO(singles[name])).pages) for name in class_order]
    assert len(merged.pages) == sum(page_counts)
    starts = {item.title: merged.get_destination_page_number(item) for item in bookmarks(merged)}
    assert starts == {issued["numbers"][name]: sum(page_counts[:i]) for i, name in enumerate(class_order)}
    # Each decision's pages show its own student and number, and no other student of the class.
    for index, name in enumerate(class_order):
        first, last = sum(page_counts[:index]), sum(page_counts[: index + 1])
        text = " ".join(page_text(merged.pages[number]) for number in range(first, last))
        assert name in text
        assert issued["numbers"][name] in text
        assert not any(other in text for other in class_order if other != name)


@pytest.mark.integration
async def test_an_establishment_batch_files_the_decisions_under_year_and_class(
    issued: dict[str, Any], tmp_path: Path
) -> None:
    out_zip, out_pdf = tmp_path / "all.zip", tmp_path / "all.pdf"
    result = await invoke(["class-batch", "--uai", UAI, "--school-year", "2025", "--zip", str(out_zip),
                           "--merged", str(out_pdf)], issued["env"])  # fmt: skip
    assert result.exit_code == 0, result.output
    numbers = issued["numbers"]
    with zipfile.ZipFile(out_zip) as archive:
        assert archive.namelist() == [  # CAP CUISINE before TLE PRO MODE, then class-list order
            f"2025/CAP CUISINE/{numbers['MARTIN Léa']}.pdf",
            *(f"2025/TLE PRO MODE/{numbers[name]}.pdf" for name in ("DURAND Hugo", "ÉLUARD Anaïs", "PETIT Zoé")),
        ]
    assert [item.title for item in bookmarks(pypdf.PdfReader(out_pdf))] == [
        numbers[name] for name in ("MARTIN Léa", "DURAND Hugo", "ÉLUARD Anaïs", "PETIT Zoé")]


@pytest.mark.integration
async def test_an_empty_class_is_an_error_and_writes_nothing(issued: dict[str, Any], tmp_path: Path) -> None:
    result = await invoke(["class-batch", "--uai", UAI, "--school-year", "2025", "--class-label", "NO SUCH CLASS",
                           "--zip", str(tmp_path / "x.zip"), "--merged", str(tmp_path / "x.pdf")],
                          issued["env"])  # fmt: skip
    assert result.exit_code == 1
    assert "no décision d'attribution" in result.stderr
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.integration
async def test_the_student_command_renders_the_current_version_of_one_schooling(
    issued: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "petit.pdf"
    result = await invoke(["student", str(issued["reissued"]), "--out", str(out)], issued["env"])
    assert result.exit_code == 0, result.output
    text = page_text(pypdf.PdfReader(out).pages[0])
    assert "PETIT Zoé" in text
    assert f"{issued['v2']} (version 2)" in text

    unknown = await invoke(["student", str(uuid.uuid4()), "--out", str(tmp_path / "no.pdf")], issued["env"])
    assert unknown.exit_code == 1
    assert "is unknown" in unknown.stderr


def entry(number: str, last_name: str, class_label: str | None = "A", sha256: str = "") -> BatchEntry:
    return BatchEntry(number, f"ref-{number}", sha256, class_label, last_name, ("Léa",),
                      datetime(2025, 9, 15, 10, tzinfo=UTC))


def test_class_list_order_ignores_accents_and_case_and_groups_by_class() -> None:
    entries = [entry("4", "zola"), entry("1", "Émile", "B"), entry("3", "Eluard"), entry("2", "Durand"),
               entry("5", "Abel", None)]  # fmt: skip
    assert [e.number for e in class_list_order(entries)] == ["2", "3", "4", "1", "5"]


def test_a_pdf_that_differs_from_its_checksum_stops_the_batch_and_leaves_no_file(tmp_path: Path) -> None:
    out_zip, out_pdf = tmp_path / "c.zip", tmp_path / "c.pdf"
    with pytest.raises(CorruptObjectError):
        write_batch([entry("1", "Durand", sha256="0" * 64)], lambda _: b"%PDF-tampered", zip_path=out_zip,
                    merged_path=out_pdf, school_year=2025, one_class=True, title="t")  # fmt: skip
    with pytest.raises(EmptyBatchError):
        write_batch([], lambda _: b"", zip_path=out_zip, merged_path=out_pdf, school_year=2025, one_class=True,
                    title="t")  # fmt: skip
    assert list(tmp_path.iterdir()) == []
