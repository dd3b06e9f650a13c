"""Files leave only on send days, inside the send window, within the ASP's caps (asp-exchange.md §3.4, §9.2 G6):
the rules on an injected clock, then `send` on the real PostgreSQL saying why nothing left."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.domain.schedule import (
    Allowance,
    SendSchedule,
    Skip,
    Usage,
    send_days,
    send_window,
    working_days_before,
)
from aplypro_asp_gateway.entrypoints.send import send_now
from aplypro_asp_gateway.entrypoints.service import build_options
from aplypro_asp_gateway.service_layer import projection
from pydantic import ValidationError

from .conftest import feed, register, request, settings_for

MONDAY_2AM = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
NOTHING = Usage(0, 0)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """December 2026: the 7th is a Monday."""
    return datetime(2026, 12, day, hour, minute, second, tzinfo=UTC)


def test_the_default_is_the_reference_schedule_weekdays_from_one_to_half_past_five(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("APLYPRO_ASP_SKIP_PUBLIC_HOLIDAYS")  # the suite's open schedule sets it off
    schedule = AspSettings(send_days="mon,tue,wed,thu,fri", send_window="01:00-05:30").schedule()
    assert schedule == SendSchedule()
    assert schedule.open_at(at(7, 1)) is None  # Monday 01:00
    assert schedule.open_at(at(11, 5, 30, 59)) is None  # Friday 05:30:59: the window's last minute
    for closed in (at(7, 0, 59, 59), at(7, 5, 31), at(12, 2), at(13, 2)):  # before, after, Saturday, Sunday
        assert schedule.open_at(closed) == Skip("outside_schedule")


def test_the_window_is_read_in_the_send_time_zone() -> None:
    paris = SendSchedule(zone=ZoneInfo("Europe/Paris"))
    assert paris.open_at(at(7, 0, 30)) is None  # 01:30 in Paris
    assert paris.open_at(at(7, 4, 45)) == Skip("outside_schedule")  # 05:45 in Paris
    assert paris.open_at(datetime(2026, 12, 11, 23, 30, tzinfo=UTC)) == Skip("outside_schedule")  # Saturday there


def test_the_caps_give_the_next_file_its_size_or_refuse_it() -> None:
    schedule = SendSchedule(records_per_file=10_000)  # a setting above the ASP's cap cannot raise it
    assert schedule.allowance(MONDAY_2AM, NOTHING) == Allowance(7000)
    assert schedule.allowance(MONDAY_2AM, Usage(9, 50_000)) == Allowance(7000)
    assert schedule.allowance(MONDAY_2AM, Usage(10, 0)) == Skip("daily_file_limit")
    assert schedule.allowance(MONDAY_2AM, Usage(3, 95_000)) == Allowance(5000, "weekly_record_limit")
    assert schedule.allowance(MONDAY_2AM, Usage(3, 100_000)) == Skip("weekly_record_limit")
    assert SendSchedule(enabled=False).allowance(MONDAY_2AM, NOTHING) == Skip("payments_disabled")


def test_today_and_the_week_are_counted_from_midnight_and_from_monday() -> None:
    day, tomorrow, monday = SendSchedule().day_and_week(at(10, 3))  # Thursday
    assert (day, tomorrow, monday) == (at(10, 0), at(11, 0), at(7, 0))


def test_working_days_skip_the_weekend() -> None:
    assert working_days_before(at(9, 2), 2) == at(7, 2)  # Wednesday → Monday
    assert working_days_before(at(15, 2), 2) == at(11, 2)  # Tuesday → the Friday before
    assert working_days_before(at(14, 10), 2) == at(10, 10)  # Monday → the Thursday before


def test_a_misspelt_day_or_window_refuses_to_start() -> None:
    assert send_days(" Mon, sun ") == frozenset({0, 6})
    assert send_window("00:00-23:59") == (time(0), time(23, 59))
    bad: list[dict[str, Any]] = [{"send_days": "mon,fri,sam"}, {"send_days": ""}, {"send_window": "5:30-1:00"},
                                 {"send_window": "01:00"}, {"send_time_zone": "Europe/Lutece"}]
    for values in bad:
        with pytest.raises(ValidationError):
            AspSettings(**values)


def test_the_running_service_builds_with_the_schedule_of_its_settings(namespace: str) -> None:
    settings = settings_for(namespace, send_days="tue", send_window="02:00-03:00", max_files_per_day=3)
    assert build_options(settings).schedule == settings.schedule()
    assert build_options(settings).schedule.files_per_day == 3


def reference(namespace: str, tmp_path: Path, **values: Any) -> AspSettings:
    """The reference's schedule (the suite opens every day and hour), files in the test's outbox folder."""
    return settings_for(namespace, outbox_dir=tmp_path / "outbox", send_days="mon,tue,wed,thu,fri",
                        send_window="01:00-05:30", **values)


async def add_requests(pool: asyncpg.Pool, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        await feed(pool, projection.on_payment_requested, request(*await register(pool, n % 3)))


async def states(pool: asyncpg.Pool) -> dict[str, int]:
    return {r["state"]: r["n"] for r in await pool.fetch("SELECT state, count(*) AS n FROM payment_requests "
                                                         "GROUP BY state")}


@pytest.mark.integration
async def test_outside_the_schedule_send_builds_nothing_and_says_why(
    pool: asyncpg.Pool, namespace: str, tmp_path: Path
) -> None:
    settings = reference(namespace, tmp_path)
    await add_requests(pool, 1)

    # Saturday night, then Monday just before the window: nothing checked, nothing built, one line saying why.
    for closed in (at(12, 2), at(7, 0, 59)):
        [line] = await send_now(pool, settings, closed)
        assert line == {"skipped": "outside_schedule", "reason": line["reason"], "at": closed.isoformat(),
                        "waiting": 1, "send_days": "mon,tue,wed,thu,fri", "send_window": "01:00-05:30",
                        "time_zone": "UTC"}
    assert await pool.fetchval("SELECT count(*) FROM asp_files") == 0
    assert await states(pool) == {"pending": 1}

    # Monday 01:00: the file leaves.
    [line] = await send_now(pool, settings, at(7, 1))
    assert (line["records"], line["state"]) == (1, "uploaded")
    assert await states(pool) == {"sent": 1}

    # The kill switch stops everything, in the window too.
    await add_requests(pool, 1, first=1)
    [line] = await send_now(pool, reference(namespace, tmp_path, payments_enabled=False), at(7, 2))
    assert line["skipped"] == "payments_disabled"
    assert await pool.fetchval("SELECT count(*) FROM asp_files") == 1


@pytest.mark.integration
async def test_the_daily_file_cap_holds_the_next_file_until_the_next_day(
    pool: asyncpg.Pool, namespace: str, tmp_path: Path
) -> None:
    settings = reference(namespace, tmp_path, max_files_per_day=2, max_records_per_file=1)
    await add_requests(pool, 3)

    # Two files of one record each on Monday, then the cap.
    for minute in (0, 30):
        [line] = await send_now(pool, settings, at(7, 1, minute))
        assert line["records"] == 1
    [line] = await send_now(pool, settings, at(7, 2))
    assert line | {"reason": None} == {"skipped": "daily_file_limit", "reason": None, "at": at(7, 2).isoformat(),
                                       "waiting": 1, "files_today": 2, "max_files_per_day": 2,
                                       "records_this_week": 2, "max_records_per_week": 100_000}
    assert await states(pool) == {"sent": 2, "pending": 1}

    # Tuesday: a new day, the third leaves.
    [line] = await send_now(pool, settings, at(8, 1))
    assert line["records"] == 1
    assert await states(pool) == {"sent": 3}


@pytest.mark.integration
async def test_the_weekly_record_cap_shrinks_the_last_file_then_holds_the_rest_until_monday(
    pool: asyncpg.Pool, namespace: str, tmp_path: Path
) -> None:
    settings = reference(namespace, tmp_path, max_records_per_week=3, max_records_per_file=2)
    await add_requests(pool, 5)

    [first] = await send_now(pool, settings, at(9, 1))  # Wednesday
    assert first["records"] == 2
    assert "capped_by" not in first
    [second] = await send_now(pool, settings, at(10, 1))  # Thursday: one record left this week
    assert (second["records"], second["capped_by"]) == (1, "weekly_record_limit")
    [line] = await send_now(pool, settings, at(11, 1))  # Friday: none left
    assert (line["skipped"], line["records_this_week"], line["waiting"]) == ("weekly_record_limit", 3, 2)
    assert await states(pool) == {"sent": 3, "pending": 2}

    # The next Monday, a new week.
    [line] = await send_now(pool, settings, at(14, 1))
    assert line["records"] == 2
    assert await states(pool) == {"sent": 5}


@pytest.mark.integration
async def test_a_file_built_and_not_uploaded_counts_where_it_will_land_and_still_goes_at_the_cap(
    pool: asyncpg.Pool, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aplypro_asp_gateway.adapters import file_drop

    settings = reference(namespace, tmp_path, max_files_per_day=1)
    await add_requests(pool, 2)
    real = file_drop.write_partial

    def disk_full(*args: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(file_drop, "write_partial", disk_full)
    with pytest.raises(OSError, match="disk full"):
        await send_now(pool, settings, at(7, 1))  # built and committed, not handed over
    monkeypatch.setattr(file_drop, "write_partial", real)
    await add_requests(pool, 1, first=2)

    # The built file is today's one file: no new file, but it goes.
    lines = await send_now(pool, settings, at(7, 2))
    assert [(line.get("records"), line.get("state"), line.get("skipped")) for line in lines] == [
        (2, "uploaded", None), (None, None, "daily_file_limit")]
    assert await states(pool) == {"sent": 2, "pending": 1}
