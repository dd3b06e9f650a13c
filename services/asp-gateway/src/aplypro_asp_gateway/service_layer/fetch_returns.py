"""Fetching the return files of the read folder: bytes committed here first, the remote copy removed after.

The ingest reads them from `fetched_returns`; this module only moves bytes (asp-exchange.md §3.1, G3):

* every regular, non-hidden file of the read folder is read; a file whose size changed while it was read
  (the ASP still writing it) is left for the next poll;
* its bytes and SHA-256 are committed; the same name with the same bytes again (a return delivered twice)
  is counted, not stored again (`new` false); the same name with other bytes (a truncated file completed
  later) is a new version;
* only then is the remote copy removed (unless `delete` is off: files already stored with that name and
  size are then not read again).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import asyncpg
import structlog

from aplypro_asp_gateway.adapters import transfers_repo
from aplypro_asp_gateway.adapters.transport import Transport

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FetchedReturn:
    name: str
    size: int
    sha256: str
    new: bool  # false: these bytes were fetched under this name before (a delivery seen twice)


async def download_new_returns(pool: asyncpg.Pool, transport: Transport, *, delete: bool = True) -> list[FetchedReturn]:
    fetched = []
    async with transport.session() as session, pool.acquire() as conn:
        for listed in await session.list_returns():
            if not delete and await transfers_repo.already_fetched(conn, listed.name, listed.size):
                continue
            content = await session.read_return(listed.name)
            if len(content) != listed.size:
                log.info("return_file_still_growing", file_name=listed.name)
                continue
            sha256 = hashlib.sha256(content).hexdigest()
            new = await transfers_repo.record_return(conn, listed.name, sha256, content,
                                                     transport.returns_source)
            if delete:  # committed above (autocommit statement): only now may the server forget it
                await session.remove_return(listed.name)
            log.info("return_file_fetched", file_name=listed.name, bytes=len(content), new=new)
            fetched.append(FetchedReturn(listed.name, len(content), sha256, new))
    return fetched
