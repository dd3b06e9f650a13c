"""Weekly snapshots of the indicators (features.md §4: Saturday 08:00, the current and the previous school
year; national, per budget prefix, per academy, per establishment), kept in indicator_snapshots, and what reports read from them.

Taking a snapshot twice the same day replaces that day's rows (a rerun after a failure is harmless). The day
is the caller's (the CLI's `--on`, the Paris calendar day by default): nothing here reads a clock.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import date
from typing import Any

from aplypro_servicekit.db import Connection

from aplypro_pfmp.domain.indicators import Counts

from . import indicators_sql


def _counts(value: Any) -> Counts:
    data = json.loads(value) if isinstance(value, str) else dict(value)
    return Counts(**{f.name: int(data.get(f.name, 0)) for f in fields(Counts)})


def _total(rows: list[indicators_sql.Keyed]) -> Counts:
    return Counts(**{f.name: sum(getattr(r.counts, f.name) for r in rows) for f in fields(Counts)})


async def take(conn: Connection, taken_on: date) -> dict[str, int]:
    """Snapshot the two latest school years as of `taken_on` (it is also the day PFMPs count as finished by);
    returns the rows written per scope. Run it in a transaction: the day's rows are replaced together."""
    years = (await indicators_sql.school_years(conn))[:2]
    await conn.execute("DELETE FROM indicator_snapshots WHERE taken_on = $1", taken_on)
    written = {"national": 0, "budget": 0, "academy": 0, "uai": 0}
    for year in years:
        academies = await indicators_sql.counts(conn, by="academy", school_year=year, today=taken_on)
        prefixes = await indicators_sql.by_budget_prefix(conn, school_year=year, today=taken_on)
        schools = await indicators_sql.counts(conn, by="uai", school_year=year, today=taken_on)
        academy_of = {r["uai"]: r["academy_code"] for r in await conn.fetch(
            "SELECT uai, max(academy_code) AS academy_code FROM schoolings WHERE school_year = $1 GROUP BY uai",
            year)}
        rows: list[tuple[str, str, str | None, Counts]] = [("national", "", None, _total(academies))]
        rows += [("budget", r.key, None, r.counts) for r in prefixes]
        rows += [("academy", r.key, r.key, r.counts) for r in academies]
        rows += [("uai", r.key, academy_of.get(r.key), r.counts) for r in schools]
        await conn.executemany(
            "INSERT INTO indicator_snapshots (taken_on, school_year, scope, key, academy_code, counts) "
            "VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            [(taken_on, year, scope, key, academy, json.dumps(asdict(counts))) for scope, key, academy, counts in rows])
        for scope, *_ in rows:
            written[scope] += 1
    return written


async def report_days(conn: Connection, school_year: int) -> list[date]:
    """The days a snapshot holds this school year, latest first."""
    rows = await conn.fetch("SELECT DISTINCT taken_on FROM indicator_snapshots WHERE school_year = $1 "
                            "ORDER BY 1 DESC", school_year)
    return [r["taken_on"] for r in rows]


async def report_years(conn: Connection) -> list[int]:
    rows = await conn.fetch("SELECT DISTINCT school_year FROM indicator_snapshots ORDER BY 1 DESC")
    return [int(r["school_year"]) for r in rows]


async def one(conn: Connection, taken_on: date, school_year: int, scope: str, key: str) -> Counts | None:
    value = await conn.fetchval("SELECT counts FROM indicator_snapshots WHERE taken_on = $1 AND school_year = $2 "
                                "AND scope = $3 AND key = $4", taken_on, school_year, scope, key)
    return None if value is None else _counts(value)


async def series(conn: Connection, school_year: int, scope: str, key: str) -> list[tuple[date, Counts]]:
    """One scope's counts at every report of the year, oldest first (the evolution)."""
    rows = await conn.fetch("SELECT taken_on, counts FROM indicator_snapshots WHERE school_year = $1 AND scope = $2 "
                            "AND key = $3 ORDER BY taken_on", school_year, scope, key)
    return [(r["taken_on"], _counts(r["counts"])) for r in rows]
