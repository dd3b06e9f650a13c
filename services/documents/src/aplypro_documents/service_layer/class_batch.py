"""Per-class download (documents.md §7): one zip of the current DAs and one merged PDF to print.

`load_entries` reads which decisions belong to the batch; `write_batch` fetches each stored PDF once,
checks it against its recorded sha256, and writes both files in class-list order.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
from pypdf import PdfReader, PdfWriter

from aplypro_documents.adapters import postgres
from aplypro_documents.service_layer.issue import PARIS

NO_CLASS = "sans-classe"  # schoolings projected before the class label was kept (migration 0002)


@dataclass(frozen=True, slots=True)
class BatchEntry:
    number: str
    storage_ref: str | None  # None: issued, its PDF not rendered yet
    sha256: str | None
    class_label: str | None
    last_name: str
    first_names: tuple[str, ...]
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class BatchResult:
    documents: int
    pages: int
    zip_path: Path
    merged_path: Path


class EmptyBatchError(LookupError):
    code = "empty_batch"


class DocumentNotRenderedError(LookupError):
    """Issued (number and content fixed), its PDF not rendered yet: nothing to serve for now."""

    code = "document_not_rendered"


class CorruptObjectError(ValueError):
    """Stored bytes differ from the sha256 recorded at issue."""

    code = "corrupt_object"


def _collation_key(text: str) -> str:
    """Accent- and case-insensitive, as a class list is read (Éloïse next to Eloise)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def class_list_order(entries: Sequence[BatchEntry]) -> list[BatchEntry]:
    """By class, then last name and first names; the number breaks ties (namesakes)."""
    return sorted(entries, key=lambda entry: (
        _collation_key(entry.class_label or NO_CLASS), _collation_key(entry.last_name),
        _collation_key(" ".join(entry.first_names)), entry.number,
    ))  # fmt: skip


async def load_entries(
    pool: asyncpg.Pool, *, uai: str, school_year: int, class_label: str | None = None
) -> list[BatchEntry]:
    async with pool.acquire() as conn:
        rows = await postgres.current_attributions(conn, uai, school_year, class_label)
    return class_list_order([
        BatchEntry(row["number"], row["storage_ref"], row["sha256"], row["class_label"], row["last_name"] or "",
                   tuple(row["first_names"] or ()), row["created_at"])
        for row in rows
    ])  # fmt: skip


def unrendered(entries: Sequence[BatchEntry]) -> int:
    return sum(entry.storage_ref is None for entry in entries)


def entry_name(entry: BatchEntry, school_year: int, *, one_class: bool) -> str:
    """`<number>.pdf` for one class; under `<year>/<class>/` for a whole establishment (§7)."""
    if one_class:
        return f"{entry.number}.pdf"
    folder = re.sub(r"[\x00-\x1f/\\:*?\"<>|]", "_", entry.class_label or "").strip(" .") or NO_CLASS
    return f"{school_year}/{folder}/{entry.number}.pdf"


def write_batch(
    entries: Sequence[BatchEntry],
    fetch: Callable[[str], bytes],
    *,
    zip_path: Path,
    merged_path: Path,
    school_year: int,
    one_class: bool,
    title: str,
    on_written: Callable[[BatchEntry], None] | None = None,
) -> BatchResult:
    """Both files at once, each PDF fetched once; written beside the targets, then moved into place."""
    if not entries:
        raise EmptyBatchError("no décision d'attribution matches")
    unrendered = [entry.number for entry in entries if entry.storage_ref is None]
    if unrendered:
        raise DocumentNotRenderedError(f"{len(unrendered)} décisions d'attribution issued are not rendered yet "
                                       f"(first: {unrendered[0]})")
    zip_part, merged_part = _part(zip_path), _part(merged_path)
    merged = PdfWriter()
    try:
        with zipfile.ZipFile(zip_part, "w") as archive:
            for entry in entries:
                assert entry.storage_ref is not None
                pdf = fetch(entry.storage_ref)
                if hashlib.sha256(pdf).hexdigest() != entry.sha256:
                    raise CorruptObjectError(f"{entry.number}: stored bytes differ from the issued ones")
                # Zip dates from the issue date, so two downloads of one batch are identical.
                stamp = entry.issued_at.astimezone(PARIS).timetuple()[:6]
                info = zipfile.ZipInfo(entry_name(entry, school_year, one_class=one_class), date_time=stamp)
                archive.writestr(info, pdf, compress_type=zipfile.ZIP_DEFLATED)
                merged.append(PdfReader(io.BytesIO(pdf)), outline_item=entry.number)
                if on_written is not None:
                    on_written(entry)
        merged.add_metadata({"/Title": title, "/Producer": "APLyPro"})
        with merged_part.open("wb") as out:
            merged.write(out)
        pages = len(merged.pages)
        os.replace(zip_part, zip_path)
        os.replace(merged_part, merged_path)
    finally:
        merged.close()
        zip_part.unlink(missing_ok=True)
        merged_part.unlink(missing_ok=True)
    return BatchResult(len(entries), pages, zip_path, merged_path)


def _part(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.part")
