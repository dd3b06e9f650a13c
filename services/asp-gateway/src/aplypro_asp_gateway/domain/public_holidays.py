"""French public holidays, the days no payment file leaves (asp-exchange.md §3.4, §11 point 4).

The existing system sends on every weekday, holidays included; whether the ASP processes a file dropped on a
holiday is unconfirmed (§11 point 4), so ours holds the night's files until the next working day by default
(APLYPRO_ASP_SKIP_PUBLIC_HOLIDAYS). The calendar is the `holidays` package's national one for France (Easter,
Ascension and Whit Monday move every year): no local list to keep up to date. National only: the ASP is a
national body, and Alsace-Moselle's or the overseas departments' extra days do not stop it.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays


@lru_cache(maxsize=32)
def _year(year: int) -> dict[date, str]:
    # One calendar per year, built once: the schedule asks at every build.
    return dict(holidays.country_holidays("FR", years=year, language="fr"))


def french_public_holiday(day: date) -> str | None:
    """The holiday's French name when `day` is a national public holiday in France, else None."""
    return _year(day.year).get(day)
