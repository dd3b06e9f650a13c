"""The port between the gateway and the ASP's folders: a drop folder for payment files, a read folder for returns.

Two implementations: the local folders of development (adapters/local_folder.py) and SFTP to the ASP
(adapters/sftp.py). Both upload under a temporary name the ASP's pick-up cannot match, then rename: a
half-written file is never taken (asp-exchange.md §3.1). The handover's crash recovery
(service_layer/handover.py) reads the folder through the same port, so it works the same on both.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int


class TransportSession(Protocol):
    """One connection to the folders; every method raises TransportFailed when the other side fails."""

    async def size_of(self, name: str, *, partial: bool = False) -> int | None:
        """The size of `name` in the drop folder (or of its temporary name), None when absent."""

    async def sha256_of(self, name: str, *, partial: bool = False) -> str | None:
        """The SHA-256 of `name` in the drop folder (or of its temporary name), None when absent."""

    async def write_partial(self, name: str, content: bytes) -> None:
        """Write `content` under the temporary name, replacing any leftover, and check its size there."""

    async def publish(self, name: str) -> None:
        """Rename the temporary name to the final one: the handover. Never replaces an existing final name."""

    async def list_returns(self) -> list[RemoteFile]:
        """Regular top-level files of the read folder, names starting with `.` left out (§3.1)."""

    async def read_return(self, name: str) -> bytes: ...

    async def remove_return(self, name: str) -> None: ...


class Transport(Protocol):
    """Where files go and come from: `destination` and `returns_source` name the two folders in outputs and
    tables (never a credential)."""

    @property
    def destination(self) -> str: ...

    @property
    def returns_source(self) -> str: ...

    def session(self) -> AbstractAsyncContextManager[TransportSession]: ...


class TransportFailed(ConnectionError):
    """The folders could not be reached or an operation on them failed; the next run retries."""

    code = "asp_transport_failed"


class HostKeyRefused(TransportFailed):
    """The server's host key is not the pinned one: nothing is sent to a server we cannot identify."""

    code = "asp_sftp_host_key_refused"


class UploadIncomplete(TransportFailed):
    """The temporary file on the server is not the size sent: it is never renamed."""

    code = "asp_upload_incomplete"
