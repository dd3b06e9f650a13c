"""When a payment file may leave, and how many records it may carry (asp-exchange.md §3.4, §9.2 G6).

Pure decisions on an injected clock: the send days and window in the send time zone, French public holidays
(skipped by default, domain/public_holidays.py), the kill switch, the ASP's caps (records per file, files per day, records per Monday–Sunday week). The counts come from the
database, read under the build's lock (adapters/send_repo.py), so two builders never both take the last slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aplypro_asp_gateway.domain.public_holidays import french_public_holiday

ASP_MAX_RECORDS_PER_FILE = 7000  # the ASP's own limit (§3.4): a setting can only lower it
UTC_ZONE = ZoneInfo("UTC")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()

SkipReason = Literal["payments_disabled", "outside_schedule", "public_holiday", "daily_file_limit",
                     "weekly_record_limit"]
SKIP_WORDS: dict[SkipReason, str] = {
    "payments_disabled": "outgoing payment files are switched off (APLYPRO_ASP_PAYMENTS_ENABLED)",
    "outside_schedule": "not a send day or outside the send window (APLYPRO_ASP_SEND_DAYS, APLYPRO_ASP_SEND_WINDOW)",
    "public_holiday": "a French public holiday: files wait for the next working day (APLYPRO_ASP_SKIP_PUBLIC_HOLIDAYS)",
    "daily_file_limit": "the files allowed today are all sent (APLYPRO_ASP_MAX_FILES_PER_DAY)",
    "weekly_record_limit": "the records allowed this week are all sent (APLYPRO_ASP_MAX_RECORDS_PER_WEEK)",
}


def send_days(value: str) -> frozenset[int]:
    """`mon,tue,…` → weekday numbers; an unknown or empty list raises ValueError."""
    names = [d.strip().lower() for d in value.split(",") if d.strip()]
    unknown = [d for d in names if d not in DAYS]
    if unknown or not names:
        raise ValueError(f"send days must be among {', '.join(DAYS)}; got {value!r}")
    return frozenset(DAYS.index(d) for d in names)


def send_window(value: str) -> tuple[time, time]:
    """`HH:MM-HH:MM` → (start, end), both included; `00:00-23:59` is the whole day."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise ValueError(f"send window must read HH:MM-HH:MM; got {value!r}") from None
    if end < start:
        raise ValueError(f"send window ends before it starts: {value!r}")
    return start, end


@dataclass(frozen=True)
class Usage:
    """What the ASP received (or will at this run: files built and not uploaded yet) today and this week."""

    files_today: int
    records_this_week: int


@dataclass(frozen=True)
class Allowance:
    records: int  # the most records the next file may carry
    capped_by: SkipReason | None = None  # set when the week's allowance, not the file's cap, limits it


@dataclass(frozen=True)
class Skip:
    reason: SkipReason


@dataclass(frozen=True)
class SendSchedule:
    enabled: bool = True
    days: frozenset[int] = frozenset(range(5))
    start: time = time(1, 0)
    end: time = time(5, 30)
    zone: ZoneInfo = UTC_ZONE
    records_per_file: int = ASP_MAX_RECORDS_PER_FILE
    files_per_day: int = 10
    records_per_week: int = 100_000
    # The ASP's processing on a public holiday is unconfirmed (§11 point 4): holding the night's file costs a
    # day, sending it might leave it unanswered past the G5 timeout.
    skip_public_holidays: bool = True

    def local(self, now: datetime) -> datetime:
        return now.astimezone(self.zone)

    def open_at(self, now: datetime) -> Skip | None:
        """None when a file may go now; else why not (the kill switch first)."""
        if not self.enabled:
            return Skip("payments_disabled")
        local = self.local(now)
        minute = local.time().replace(second=0, microsecond=0)
        if local.weekday() not in self.days or not self.start <= minute <= self.end:
            return Skip("outside_schedule")
        if self.holiday(now) is not None:
            return Skip("public_holiday")
        return None

    def holiday(self, now: datetime) -> str | None:
        """The public holiday `now` falls on in the send zone, when holidays are skipped; else None."""
        return french_public_holiday(self.local(now).date()) if self.skip_public_holidays else None

    def allowance(self, now: datetime, usage: Usage) -> Allowance | Skip:
        """The next file's size, or why no new file may be built now (files already built still go)."""
        closed = self.open_at(now)
        if closed is not None:
            return closed
        if usage.files_today >= self.files_per_day:
            return Skip("daily_file_limit")
        left = self.records_per_week - usage.records_this_week
        if left <= 0:
            return Skip("weekly_record_limit")
        per_file = min(self.records_per_file, ASP_MAX_RECORDS_PER_FILE)
        return Allowance(left, "weekly_record_limit") if left < per_file else Allowance(per_file)

    def day_and_week(self, now: datetime) -> tuple[datetime, datetime, datetime]:
        """Start of today, of tomorrow and of this Monday–Sunday week, in the send zone, as instants."""
        today = self.local(now).date()
        monday = today - timedelta(days=today.weekday())
        return self._midnight(today), self._midnight(today + timedelta(days=1)), self._midnight(monday)

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.zone)


REFERENCE = SendSchedule()  # the reference's schedule and caps (§3.4)


def working_days_before(now: datetime, days: int, *, skip_public_holidays: bool = False) -> datetime:
    """The instant `days` working days (Monday–Friday, and not a French public holiday when asked) before `now`:
    a record uploaded at or before it has waited that long."""
    at = now
    while days > 0:
        at -= timedelta(days=1)
        if at.weekday() < 5 and not (skip_public_holidays and french_public_holiday(at.date())):
            days -= 1
    return at
