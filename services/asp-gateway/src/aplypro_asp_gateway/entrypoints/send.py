"""`aplypro-asp-gateway send`: one exchange now. Build what is ready (the usual build), then hand over every
file not yet in the drop folder (this one, or one a crash left behind) through the transport the settings
choose (SFTP when APLYPRO_ASP_SFTP_HOST is set, the local outbox folder otherwise).

One JSON line per file handed over: name, records, sha256, destination, state (`uploaded`; `already_there`:
found on the server after a crash, only recorded; `unconfirmed`: taken before it was recorded; `answered`: an
ASP answer named it first), and `capped_by` when the week's allowance made it smaller than the file cap.
When no new file may be built now, one more line says why (§3.4, G6):
{"skipped": <reason>, "reason": <words>, "at": <ISO instant>, "waiting": <requests to check>, ...}
with <reason> `payments_disabled`, `outside_schedule` or `public_holiday` (then `send_days`, `send_window`,
`time_zone`, and `holiday`: the holiday's French name), or
`daily_file_limit` or `weekly_record_limit` (then `files_today`, `max_files_per_day`, `records_this_week`,
`max_records_per_week`; the files already built still go, on their own lines).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg

from aplypro_asp_gateway.adapters import transfers_repo
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.domain.schedule import SKIP_WORDS
from aplypro_asp_gateway.entrypoints.service import build_options
from aplypro_asp_gateway.service_layer.build import build_payment_file


async def send_now(pool: asyncpg.Pool, settings: AspSettings, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    result = await build_payment_file(pool, build_options(settings), now)
    async with pool.acquire() as conn:
        files = await transfers_repo.handed_over(conn, result.written)
        waiting = await conn.fetchval("SELECT count(*) FROM payment_requests WHERE state = 'pending' AND recheck")
    lines: list[dict[str, Any]] = []
    for f in files:
        line: dict[str, Any] = {"name": f.name, "records": f.records, "sha256": f.sha256,
                                "destination": f.destination, "state": f.outcome}
        if f.name == result.file_name and result.capped_by:
            line["capped_by"] = result.capped_by
        lines.append(line)
    if result.skipped:
        schedule = settings.schedule()
        skip: dict[str, Any] = {"skipped": result.skipped, "reason": SKIP_WORDS[result.skipped],
                                "at": now.isoformat(), "waiting": int(waiting)}
        if result.usage is not None:
            skip |= {"files_today": result.usage.files_today, "max_files_per_day": schedule.files_per_day,
                     "records_this_week": result.usage.records_this_week,
                     "max_records_per_week": schedule.records_per_week}
        else:
            skip |= {"send_days": settings.send_days, "send_window": settings.send_window,
                     "time_zone": settings.send_time_zone}
            if result.skipped == "public_holiday":
                skip["holiday"] = schedule.holiday(now)
        lines.append(skip)
    return lines


def json_lines(files: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(f) + "\n" for f in files)
