"""Payment- and address-correction-file names (§3.2) and their atomic write into the outbox folder."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

_NAME = re.compile(r"^nps_ficimport_(?:correction_adresse_)?idp_(?P<token>.+)_(?P<stamp>\d{14})\.xml$")
PAYMENT_PREFIX = "nps_ficimport_idp_"
CORRECTION_PREFIX = "nps_ficimport_correction_adresse_idp_"  # the address-correction file (§3.2, §4.9)


def payment_file_name(token: str, at: datetime, prefix: str = PAYMENT_PREFIX) -> str:
    """`nps_ficimport_idp_{TOKEN}_{YYYYMMDDHHMMSS}.xml` (or the correction file's prefix); the stamp is UTC, so
    no hour repeats at DST's end."""
    return f"{prefix}{token}_{at.astimezone(UTC):%Y%m%d%H%M%S}.xml"


def stamp_of(name: str) -> datetime | None:
    match = _NAME.match(name)
    return datetime.strptime(match["stamp"], "%Y%m%d%H%M%S").replace(tzinfo=UTC) if match else None


def next_name(token: str, now: datetime, latest: datetime | None, prefix: str = PAYMENT_PREFIX) -> str:
    """A name never used before: the build second, bumped past the latest name already issued.

    A name is the only link to the ASP's CSV answers, so it must never carry other content (§3.2).
    """
    at = now.astimezone(UTC).replace(microsecond=0)
    if latest is not None and at <= latest:
        at = latest + timedelta(seconds=1)
    return payment_file_name(token, at, prefix)


def partial_path(folder: Path, name: str) -> Path:
    return folder / f".{name}.part"  # hidden: an uploader picks only `nps_ficimport_idp_*.xml`


def write_partial(folder: Path, name: str, content: bytes) -> Path:
    """Write the hidden `.<name>.part` and make it durable (file and folder synced) before any rename."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = partial_path(folder, name)
    with partial.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    _sync_folder(folder)
    return partial


def publish(folder: Path, name: str) -> Path:
    """Rename the part file to its final name: the handover to the uploader, atomic and made durable."""
    final = folder / name
    os.replace(partial_path(folder, name), final)
    _sync_folder(folder)  # the rename itself survives a power cut only once the folder is synced
    return final


def write_atomically(folder: Path, name: str, content: bytes) -> Path:
    """Write `.<name>.part`, flush to disk, then rename: a reader never sees a half-written file."""
    write_partial(folder, name, content)
    return publish(folder, name)


def sha256_of(path: Path) -> str | None:
    """The file's SHA-256, or None when there is no such file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _sync_folder(folder: Path) -> None:
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def latest_on_disk(folder: Path, token: str) -> datetime | None:
    """The newest stamp of this token's files already in the folder (written by an earlier database, say)."""
    if not folder.is_dir():
        return None
    stamps = [stamp_of(p.name) for p in folder.glob(f"nps_ficimport_idp_{token}_*.xml")]
    return max((s for s in stamps if s is not None), default=None)
