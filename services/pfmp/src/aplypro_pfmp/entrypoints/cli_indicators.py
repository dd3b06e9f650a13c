"""`aplypro-pfmp snapshot-indicators`: the weekly snapshot of the statistics indicators (features.md §4: every
Saturday at 08:00, the current and the previous school year), which academic reports and the national
evolution read. The scheduler (cron, a Kubernetes CronJob) runs it; the day is an argument, so nothing
depends on when it runs."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from aplypro_servicekit.cli import service_pool

from aplypro_pfmp.adapters import snapshots_sql
from aplypro_pfmp.config import PfmpSettings

PARIS = ZoneInfo("Europe/Paris")


def register(app: typer.Typer) -> None:
    @app.command("snapshot-indicators")
    def snapshot_indicators(
        on: Annotated[str | None, typer.Option("--on", help="The report's day, YYYY-MM-DD (default: today in "
                                                           "Paris); a second run the same day replaces it.")] = None,
    ) -> None:
        """Snapshot the indicators (national, per academy, per establishment) of the two latest school years.
        Prints {"taken_on": ..., "national": n, "budget": n, "academy": n, "uai": n}."""
        taken_on = date.fromisoformat(on) if on else datetime.now(PARIS).date()

        async def main() -> dict[str, int]:
            async with service_pool(PfmpSettings(), "pfmp", ["aplypro_pfmp"]) as (pool, _), \
                    pool.acquire() as conn, conn.transaction():
                return await snapshots_sql.take(conn, taken_on)

        written = asyncio.run(main())
        typer.echo(json.dumps({"taken_on": taken_on.isoformat(), **written}))
