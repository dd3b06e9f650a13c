"""SFTP to the ASP (asp-exchange.md §3.1) with asyncssh: key (or password) authentication, host key pinned.

The host key is checked against a known_hosts file, always: there is no way to turn the check off, and an
unknown or changed key refuses the connection (HostKeyRefused) before anything is sent. A payment file is
written under `.<name>.part` (a name the ASP's pick-up of `nps_ficimport_idp_*.xml` cannot match), its
size checked on the server, then renamed with the plain SFTP rename, which never replaces an existing file.
Every asyncssh or socket failure comes out as TransportFailed: the caller's next run retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

import asyncssh
from asyncssh.encryption import get_default_encryption_algs

from aplypro_asp_gateway.adapters.transport import (
    HostKeyRefused,
    RemoteFile,
    TransportFailed,
    UploadIncomplete,
)

T = TypeVar("T")

# The ASP's own client forces aes256-cbc, which asyncssh supports but does not offer by default (§3.1).
ENCRYPTION_ALGS = [*(alg.decode() for alg in get_default_encryption_algs()), "aes256-cbc"]
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class SftpConfig:
    host: str
    port: int
    user: str
    known_hosts: Path
    upload_dir: str = "depot"
    return_dir: str = "retour"
    key_path: Path | None = None
    password: str | None = None
    timeout_s: float = 60.0


class SftpSession:
    def __init__(self, sftp: asyncssh.SFTPClient, config: SftpConfig) -> None:
        self._sftp, self._config = sftp, config

    def _upload_path(self, name: str, partial: bool) -> str:
        return posixpath.join(self._config.upload_dir, f".{name}.part" if partial else name)

    def _return_path(self, name: str) -> str:
        return posixpath.join(self._config.return_dir, name)

    async def _run(self, what: str, step: Awaitable[T]) -> T:
        """One operation under the timeout; a failure says which operation, never what the file holds."""
        try:
            async with asyncio.timeout(self._config.timeout_s):
                return await step
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            raise TransportFailed(f"sftp {what} failed: {type(exc).__name__}") from exc

    async def size_of(self, name: str, *, partial: bool = False) -> int | None:
        try:
            attrs = await self._run("stat", self._sftp.stat(self._upload_path(name, partial)))
        except TransportFailed as exc:
            if isinstance(exc.__cause__, asyncssh.SFTPNoSuchFile):
                return None
            raise
        return attrs.size

    async def sha256_of(self, name: str, *, partial: bool = False) -> str | None:
        if await self.size_of(name, partial=partial) is None:
            return None
        return hashlib.sha256(await self._read(self._upload_path(name, partial))).hexdigest()

    async def _read(self, path: str) -> bytes:
        async def read() -> bytes:
            async with self._sftp.open(path, "rb", block_size=_CHUNK) as handle:
                return cast(bytes, await handle.read())  # mode "rb": bytes

        return await self._run("read", read())

    async def write_partial(self, name: str, content: bytes) -> None:
        path = self._upload_path(name, partial=True)

        async def write() -> None:
            async with self._sftp.open(path, "wb", block_size=_CHUNK) as handle:
                await handle.write(content)

        await self._run("write", write())
        size = await self.size_of(name, partial=True)
        if size != len(content):  # a server that cut the file short: never renamed into the pick-up
            raise UploadIncomplete(f"sftp temporary file of {name} holds {size} bytes, {len(content)} sent")

    async def publish(self, name: str) -> None:
        # Plain SFTP rename (not posix-rename): it fails when the final name exists, so it never replaces a file.
        await self._run("rename", self._sftp.rename(self._upload_path(name, True), self._upload_path(name, False)))

    async def list_returns(self) -> list[RemoteFile]:
        entries = await self._run("list", self._sftp.readdir(self._config.return_dir))
        files = [RemoteFile(str(e.filename), int(e.attrs.size or 0)) for e in entries
                 if e.attrs.type == asyncssh.FILEXFER_TYPE_REGULAR and not str(e.filename).startswith(".")]
        return sorted(files, key=lambda f: f.name)

    async def read_return(self, name: str) -> bytes:
        return await self._read(self._return_path(name))

    async def remove_return(self, name: str) -> None:
        try:
            await self._run("remove", self._sftp.remove(self._return_path(name)))
        except TransportFailed as exc:
            if not isinstance(exc.__cause__, asyncssh.SFTPNoSuchFile):  # already gone: what we wanted
                raise


class SftpTransport:
    def __init__(self, config: SftpConfig) -> None:
        self.config = config

    @property
    def destination(self) -> str:
        c = self.config
        return f"sftp://{c.user}@{c.host}:{c.port}/{c.upload_dir}"

    @property
    def returns_source(self) -> str:
        c = self.config
        return f"sftp://{c.user}@{c.host}:{c.port}/{c.return_dir}"

    async def _connect(self) -> asyncssh.SSHClientConnection:
        c = self.config
        try:
            async with asyncio.timeout(c.timeout_s):
                return await asyncssh.connect(
                    c.host, c.port, username=c.user, known_hosts=str(c.known_hosts),
                    client_keys=[str(c.key_path)] if c.key_path else None, password=c.password,
                    encryption_algs=ENCRYPTION_ALGS,
                    # Only what the settings say: no ssh agent, no ~/.ssh/config, no default keys.
                    agent_path=None, config=[], preferred_auth="publickey,password",
                )
        except asyncssh.HostKeyNotVerifiable as exc:
            raise HostKeyRefused(f"sftp host key of {c.host}:{c.port} is not the pinned one") from exc
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            raise TransportFailed(f"sftp connection to {c.host}:{c.port} failed: {type(exc).__name__}") from exc

    @asynccontextmanager
    async def session(self) -> AsyncIterator[SftpSession]:
        conn = await self._connect()
        try:
            try:
                sftp = await asyncio.wait_for(conn.start_sftp_client(), self.config.timeout_s)
            except (asyncssh.Error, OSError, TimeoutError) as exc:
                raise TransportFailed(f"sftp subsystem failed: {type(exc).__name__}") from exc
            async with sftp:
                yield SftpSession(sftp, self.config)
        finally:
            conn.close()
            await conn.wait_closed()
