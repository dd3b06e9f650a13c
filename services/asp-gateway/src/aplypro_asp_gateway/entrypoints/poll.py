"""`aplypro-asp-gateway poll`: fetch every return file now and ingest it; one JSON line per file.

The fetch is one small function (`Fetch`): the local return folder today (`APLYPRO_ASP_RETURN_DIR`), the SFTP
download when it is plugged in. Files are left where they are: the same name and bytes again are recognised
(`already_ingested`) and change nothing; a refused file is read again at the next poll.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

import asyncpg
from aplypro_contracts.topics import ASP_EVENTS

from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.entrypoints.service import SCHEMA
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


async def poll(pool: asyncpg.Pool, settings: AspSettings, fetch: Fetch | None = None) -> list[IngestResult]:
    incoming = await (fetch or local_folder(settings.return_dir))()
    return await ingest_all(pool, incoming, topic=settings.topic(ASP_EVENTS), schema=settings.db_schema(SCHEMA))


def print_results(results: list[IngestResult], out: TextIO) -> None:
    for result in results:
        out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
