"""`aplypro-asp-gateway send`: one exchange now. Build what is ready (the usual build), then hand over every
file not yet in the drop folder (this one, or one a crash left behind) through the transport the settings
choose (SFTP when APLYPRO_ASP_SFTP_HOST is set, the local outbox folder otherwise).

One JSON line per file handed over: name, records, sha256, destination, state (`uploaded`; `already_there`:
found on the server after a crash, only recorded; `unconfirmed`: taken before it was recorded).
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from aplypro_asp_gateway.adapters import transfers_repo
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.entrypoints.service import build_options
from aplypro_asp_gateway.service_layer.build import build_payment_file


async def send_now(pool: asyncpg.Pool, settings: AspSettings) -> list[dict[str, Any]]:
    result = await build_payment_file(pool, build_options(settings))
    async with pool.acquire() as conn:
        files = await transfers_repo.handed_over(conn, result.written)
    return [{"name": f.name, "records": f.records, "sha256": f.sha256, "destination": f.destination,
             "state": f.outcome} for f in files]


def json_lines(files: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(f) + "\n" for f in files)
