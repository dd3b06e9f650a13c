"""The local-folder transport: payment files into the outbox folder, returns from the inbox folder.

The default when no SFTP host is set (development, or an uploader outside the gateway). Its steps are the
functions of adapters/file_drop.py, looked up at call time so tests can crash any of them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aplypro_asp_gateway.adapters import file_drop
from aplypro_asp_gateway.adapters.transport import RemoteFile


class LocalFolderSession:
    def __init__(self, outbox: Path, inbox: Path) -> None:
        self.outbox, self.inbox = outbox, inbox

    def _path(self, name: str, partial: bool) -> Path:
        return file_drop.partial_path(self.outbox, name) if partial else self.outbox / name

    async def size_of(self, name: str, *, partial: bool = False) -> int | None:
        try:
            return (await asyncio.to_thread(os.stat, self._path(name, partial))).st_size
        except FileNotFoundError:
            return None

    async def sha256_of(self, name: str, *, partial: bool = False) -> str | None:
        return await asyncio.to_thread(file_drop.sha256_of, self._path(name, partial))

    async def write_partial(self, name: str, content: bytes) -> None:
        await asyncio.to_thread(file_drop.write_partial, self.outbox, name, content)

    async def publish(self, name: str) -> None:
        await asyncio.to_thread(file_drop.publish, self.outbox, name)

    async def list_returns(self) -> list[RemoteFile]:
        def scan() -> list[RemoteFile]:
            if not self.inbox.is_dir():
                return []
            with os.scandir(self.inbox) as entries:
                return sorted((RemoteFile(e.name, e.stat().st_size) for e in entries
                               if e.is_file(follow_symlinks=False) and not e.name.startswith(".")),
                              key=lambda f: f.name)

        return await asyncio.to_thread(scan)

    async def read_return(self, name: str) -> bytes:
        return await asyncio.to_thread((self.inbox / name).read_bytes)

    async def remove_return(self, name: str) -> None:
        await asyncio.to_thread((self.inbox / name).unlink, True)


class LocalFolderTransport:
    def __init__(self, outbox: Path, inbox: Path | None = None) -> None:
        self.outbox = outbox
        self.inbox = inbox if inbox is not None else outbox.parent / "inbox"

    @property
    def destination(self) -> str:
        return str(self.outbox.resolve())

    @property
    def returns_source(self) -> str:
        return str(self.inbox.resolve())

    @asynccontextmanager
    async def session(self) -> AsyncIterator[LocalFolderSession]:
        yield LocalFolderSession(self.outbox, self.inbox)
