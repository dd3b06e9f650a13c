"""Random (version 4) UUIDs, drawn from the operating system's generator in bulk.

`uuid.uuid4()` asks the kernel for 16 bytes on every call: a system call per id, and a busy service makes
two or three ids per event. Here each thread keeps 4 KiB of `os.urandom` output and cuts ids from it:
the same randomness, one system call per 256 ids.
"""

from __future__ import annotations

import os
import threading
from uuid import UUID

_CHUNK = 4096
_local = threading.local()


def new_uuid() -> UUID:
    buffer: bytes = getattr(_local, "buffer", b"")
    offset: int = getattr(_local, "offset", _CHUNK)
    if offset >= len(buffer):
        buffer, offset = os.urandom(_CHUNK), 0
        _local.buffer = buffer
    _local.offset = offset + 16
    return UUID(bytes=buffer[offset:offset + 16], version=4)
