"""Payment-file names (§3.2) and their atomic write into the outbox folder."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

_NAME = re.compile(r"^nps_ficimport_idp_(?P<token>.+)_(?P<stamp>\d{14})\.xml$")


def payment_file_name(token: str, at: datetime) -> str:
    """`nps_ficimport_idp_{TOKEN}_{YYYYMMDDHHMMSS}.xml`; the stamp is UTC, so no hour repeats at DST's end."""
    return f"nps_ficimport_idp_{token}_{at.astimezone(UTC):%Y%m%d%H%M%S}.xml"


def stamp_of(name: str) -> datetime | None:
    match = _NAME.match(name)
    return datetime.strptime(match["stamp"], "%Y%m%d%H%M%S").replace(tzinfo=UTC) if match else None


def next_name(token: str, now: datetime, latest: datetime | None) -> str:
    """A name never used before: the build second, bumped past the latest name already issued.

    A name is the only link to the ASP's CSV answers, so it must never carry other content (§3.2).
    """
    at = now.astimezone(UTC).replace(microsecond=0)
    if latest is not None and at <= latest:
        at = latest + timedelta(seconds=1)
    return payment_file_name(token, at)


def write_atomically(folder: Path, name: str, content: bytes) -> Path:
    """Write `.<name>.part`, flush to disk, then rename: a reader never sees a half-written file."""
    folder.mkdir(parents=True, exist_ok=True)
    final, partial = folder / name, folder / f".{name}.part"
    with partial.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, final)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut only once the folder is synced
    finally:
        os.close(directory)
    return final


def latest_on_disk(folder: Path, token: str) -> datetime | None:
    """The newest stamp of this token's files already in the folder (written by an earlier database, say)."""
    if not folder.is_dir():
        return None
    stamps = [stamp_of(p.name) for p in folder.glob(f"nps_ficimport_idp_{token}_*.xml")]
    return max((s for s in stamps if s is not None), default=None)
