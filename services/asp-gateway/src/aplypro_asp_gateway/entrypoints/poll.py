"""`aplypro-asp-gateway poll`: fetch every return file now and ingest it; one JSON line per file.

The fetch is one small function (`Fetch`): with `APLYPRO_ASP_SFTP_HOST` set, the SFTP download (bytes committed
in `fetched_returns` before the server's copy is removed), then every fetched file not ingested yet; without,
the local inbox folder (`APLYPRO_ASP_INBOX_DIR`), whose files are left where they are. The same name and bytes
again are recognised (`already_ingested`) and change nothing; a refused file is read again at the next poll.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

import asyncpg
from aplypro_contracts.topics import ASP_EVENTS

from aplypro_asp_gateway.adapters import transfers_repo
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.entrypoints.service import SCHEMA, grouping
from aplypro_asp_gateway.service_layer.fetch_returns import download_new_returns
from aplypro_asp_gateway.service_layer.handover import transport_for
from aplypro_asp_gateway.service_layer.ingest import IncomingReturn, IngestResult, ingest_all

Fetch = Callable[[], Awaitable[list[IncomingReturn]]]


def local_folder(folder: Path) -> Fetch:
    """Every regular, non-hidden file of the folder (a file being written is hidden or refused as truncated)."""
    async def fetch() -> list[IncomingReturn]:
        if not folder.is_dir():
            return []
        return [IncomingReturn(p.name, p.read_bytes()) for p in sorted(folder.iterdir())
                if p.is_file() and not p.name.startswith(".")]
    return fetch


def downloaded(pool: asyncpg.Pool, settings: AspSettings) -> Fetch:
    """The SFTP return folder, through `fetched_returns`: what was downloaded and never ingested."""
    async def fetch() -> list[IncomingReturn]:
        await download_new_returns(pool, transport_for(settings), delete=settings.sftp_delete_returns)
        async with pool.acquire() as conn:
            return [IncomingReturn(name, content) for name, content in await transfers_repo.not_ingested(conn)]
    return fetch


def default_fetch(pool: asyncpg.Pool, settings: AspSettings) -> Fetch:
    return downloaded(pool, settings) if settings.sftp_host else local_folder(settings.inbox_dir)


async def poll(pool: asyncpg.Pool, settings: AspSettings, fetch: Fetch | None = None) -> list[IngestResult]:
    incoming = await (fetch or default_fetch(pool, settings))()
    return await ingest_all(pool, incoming, topic=settings.topic(ASP_EVENTS), schema=settings.db_schema(SCHEMA),
                            grouping=grouping(settings))


def print_results(results: list[IngestResult], out: TextIO) -> None:
    for result in results:
        out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
