"""No payment file leaves on a French public holiday unless told to (asp-exchange.md §3.4, §11 point 4): the rule
on an injected clock (Easter Monday, 14 July, 1 May, a normal weekday), then `send` on the real PostgreSQL
holding the night's file until the next working day and saying why."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import pytest
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.domain.public_holidays import french_public_holiday
from aplypro_asp_gateway.domain.schedule import SendSchedule, Skip, working_days_before
from aplypro_asp_gateway.entrypoints.send import send_now
from aplypro_asp_gateway.service_layer import projection

from .conftest import feed, register, request, settings_for

EASTER_MONDAY = datetime(2026, 4, 6, 2, 0, tzinfo=UTC)
BASTILLE_DAY = datetime(2026, 7, 14, 2, 0, tzinfo=UTC)  # a Tuesday
LABOUR_DAY = datetime(2027, 5, 1, 2, 0, tzinfo=UTC)  # a Saturday in 2027: the weekend rule answers first
LABOUR_DAY_WEEKDAY = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)  # a Friday
NORMAL_TUESDAY = datetime(2026, 4, 7, 2, 0, tzinfo=UTC)


def test_the_calendar_knows_the_moving_and_the_fixed_holidays() -> None:
    assert french_public_holiday(date(2026, 4, 6)) == "Lundi de Pâques"
    assert french_public_holiday(date(2027, 3, 29)) == "Lundi de Pâques"  # Easter moves: no hand-written rule
    assert french_public_holiday(date(2026, 7, 14)) == "Fête nationale"
    assert french_public_holiday(date(2026, 5, 1)) == "Fête du Travail"
    assert french_public_holiday(date(2026, 4, 7)) is None


def test_no_file_leaves_on_a_weekday_public_holiday_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APLYPRO_ASP_SKIP_PUBLIC_HOLIDAYS")  # the suite's open schedule sets it off
    schedule = AspSettings(send_days="mon,tue,wed,thu,fri", send_window="01:00-05:30").schedule()
    assert schedule.skip_public_holidays
    for holiday in (EASTER_MONDAY, BASTILLE_DAY, LABOUR_DAY_WEEKDAY):
        assert schedule.open_at(holiday) == Skip("public_holiday")
    assert schedule.holiday(BASTILLE_DAY) == "Fête nationale"
    assert schedule.open_at(NORMAL_TUESDAY) is None
    assert schedule.holiday(NORMAL_TUESDAY) is None


def test_a_holiday_on_a_weekend_or_outside_the_window_is_outside_the_schedule_first() -> None:
    schedule = SendSchedule()
    assert schedule.open_at(LABOUR_DAY) == Skip("outside_schedule")
    assert schedule.open_at(EASTER_MONDAY.replace(hour=12)) == Skip("outside_schedule")


def test_the_holiday_is_read_in_the_send_time_zone() -> None:
    from zoneinfo import ZoneInfo

    paris = SendSchedule(zone=ZoneInfo("Europe/Paris"), days=frozenset(range(7)))
    # 13 July 23:30 UTC is already 14 July 01:30 in Paris.
    assert paris.open_at(datetime(2026, 7, 13, 23, 30, tzinfo=UTC)) == Skip("public_holiday")
    assert SendSchedule(days=frozenset(range(7))).open_at(datetime(2026, 7, 13, 23, 30, tzinfo=UTC)) is not None


def test_the_setting_off_sends_on_holidays_as_the_existing_system_does() -> None:
    schedule = AspSettings(skip_public_holidays=False, send_days="mon,tue,wed,thu,fri",
                           send_window="01:00-05:30").schedule()
    for holiday in (EASTER_MONDAY, BASTILLE_DAY, LABOUR_DAY_WEEKDAY):
        assert schedule.open_at(holiday) is None
        assert schedule.holiday(holiday) is None


def test_the_answer_timeout_does_not_count_a_holiday_as_a_working_day() -> None:
    wednesday = datetime(2026, 4, 8, 2, 0, tzinfo=UTC)  # after Easter Monday
    assert working_days_before(wednesday, 2) == datetime(2026, 4, 6, 2, 0, tzinfo=UTC)
    assert working_days_before(wednesday, 2, skip_public_holidays=True) == datetime(2026, 4, 3, 2, 0, tzinfo=UTC)


@pytest.mark.integration
async def test_send_holds_the_file_on_easter_monday_and_sends_it_on_tuesday(
    pool: asyncpg.Pool, namespace: str, tmp_path: Path
) -> None:
    settings = settings_for(namespace, outbox_dir=tmp_path / "outbox", send_days="mon,tue,wed,thu,fri",
                            send_window="01:00-05:30", skip_public_holidays=True)
    await feed(pool, projection.on_payment_requested, request(*await register(pool, 0)))

    # Easter Monday, inside the window: nothing built, one line saying which holiday.
    [line] = await send_now(pool, settings, EASTER_MONDAY)
    assert (line["skipped"], line["holiday"], line["waiting"]) == ("public_holiday", "Lundi de Pâques", 1)
    assert "APLYPRO_ASP_SKIP_PUBLIC_HOLIDAYS" in line["reason"]
    assert await pool.fetchval("SELECT count(*) FROM asp_files") == 0

    # The next day, a normal Tuesday: the file leaves.
    [line] = await send_now(pool, settings, NORMAL_TUESDAY)
    assert (line["records"], line["state"]) == (1, "uploaded")
    assert await pool.fetchval("SELECT count(*) FROM asp_files") == 1


@pytest.mark.integration
async def test_with_the_setting_off_send_uploads_on_the_fourteenth_of_july(
    pool: asyncpg.Pool, namespace: str, tmp_path: Path
) -> None:
    settings = settings_for(namespace, outbox_dir=tmp_path / "outbox", send_days="mon,tue,wed,thu,fri",
                            send_window="01:00-05:30", skip_public_holidays=False)
    await feed(pool, projection.on_payment_requested, request(*await register(pool, 0)))
    [line] = await send_now(pool, settings, BASTILLE_DAY)
    assert (line["records"], line["state"]) == (1, "uploaded")
