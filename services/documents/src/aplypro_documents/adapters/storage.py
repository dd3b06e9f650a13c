"""Where PDFs are kept: a small interface, the local filesystem by default."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    ref: str
    sha256: str
    size_bytes: int


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> StoredObject: ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes) -> StoredObject:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # atomic: a reader never sees half a PDF
        return StoredObject(str(path), hashlib.sha256(data).hexdigest(), len(data))
