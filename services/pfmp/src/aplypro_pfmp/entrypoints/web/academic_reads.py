"""What the academic pages, their CSV exports and the JSON API read (one place, so a page and its API
answer the same): an academy's establishments with their indicators, one establishment's, the nation's per
academy. The caller has checked the user's scope (role_guards); `today` is the pages' injected clock."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime
from typing import NamedTuple

from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters import establishments_sql, indicators_sql, invitations_sql, web_sql
from aplypro_pfmp.domain import budget
from aplypro_pfmp.domain.indicators import Counts

from .role_guards import PARIS


class YearRows(NamedTuple):
    years: list[int]  # most recent first
    year: int | None  # None: nothing known yet
    rows: list[indicators_sql.Keyed]


def chosen_year(years: list[int], asked: int | None) -> int | None:
    """The asked year if known, else the latest one (features.md §1)."""
    return asked if asked in years else (years[0] if years else None)


def total(rows: list[indicators_sql.Keyed]) -> Counts:
    return Counts(**{f.name: sum(getattr(r.counts, f.name) for r in rows) for f in fields(Counts)})


async def academy_establishments(conn: Connection, code: str, asked: int | None, today: date) -> YearRows:
    """The academy's establishments, ranked by what reached the students (features.md §4: by amount paid)."""
    years = await indicators_sql.school_years(conn, [code])
    year = chosen_year(years, asked)
    rows = [] if year is None else await indicators_sql.counts(
        conn, by="uai", school_year=year, today=today, academies=[code])
    rows.sort(key=lambda r: (-r.counts.payment_requests_paid_sum, -r.counts.pfmps_paid_count, r.key))
    return YearRows(years, year, rows)


async def establishment_counts(conn: Connection, code: str, uai: str, year: int, today: date) -> Counts | None:
    rows = await indicators_sql.counts(conn, by="uai", school_year=year, today=today, academies=[code], uai=uai)
    return rows[0].counts if rows else None


async def national(conn: Connection, asked: int | None, today: date) -> YearRows:
    """Every academy's counts (the '' key: schoolings whose establishment gave no academy)."""
    years = await indicators_sql.school_years(conn)
    year = chosen_year(years, asked)
    rows = [] if year is None else await indicators_sql.counts(conn, by="academy", school_year=year, today=today)
    return YearRows(years, year, rows)


async def paid_by_academy(conn: Connection, scope: list[str] | None, asked: int | None, today: date) -> YearRows:
    """Every academy of the scope (None: all) with its counts, for the academic home's map."""
    years = await indicators_sql.school_years(conn, scope)
    year = chosen_year(years, asked)
    rows = [] if year is None else await indicators_sql.counts(conn, by="academy", school_year=year, today=today,
                                                               academies=scope)
    return YearRows(years, year, rows)


async def national_establishments(conn: Connection, year: int, today: date) -> list[indicators_sql.Keyed]:
    return await indicators_sql.counts(conn, by="uai", school_year=year, today=today)


async def budget_prefixes(conn: Connection, year: int, today: date) -> list[indicators_sql.Keyed]:
    return await indicators_sql.by_budget_prefix(conn, school_year=year, today=today)


class EstablishmentRow(NamedTuple):
    """One establishment of the national table: its directory facts (blank when pfmp has not heard of them)."""

    uai: str
    name: str
    ministry: str
    academy_code: str
    sector: str  # Public or Privé
    counts: Counts


async def described(conn: Connection, rows: list[indicators_sql.Keyed]) -> list[EstablishmentRow]:
    facts = await establishments_sql.of(conn, [r.key for r in rows])
    out = []
    for row in rows:
        known = facts.get(row.key)
        out.append(EstablishmentRow(row.key, known.name if known else "", known.ministry if known else "",
                                    (known.academy_code or "") if known else "",
                                    budget.sector(known.contract_type_code if known else None), row.counts))
    return out


class EstablishmentUsers(NamedTuple):
    """Who uses an establishment's pages, as pfmp knows them (features.md §2 "users"): whether a director is
    confirmed and since when (the identity's opaque id is not shown), and the live staff invitations. Directors and
    delegated staff come from identity claims at each login and are not stored, so they are not listed."""

    director_confirmed_at: datetime | None
    invited: list[tuple[str, datetime]]  # e-mail, invited at


async def establishment_users(conn: Connection, uai: str) -> EstablishmentUsers:
    confirmed = await conn.fetchval("SELECT confirmed_at FROM confirmed_directors WHERE uai = $1", uai)
    invited = [(i.email, i.invited_at.astimezone(PARIS)) for i in await invitations_sql.of_establishment(conn, uai)]
    return EstablishmentUsers(None if confirmed is None else confirmed.astimezone(PARIS), invited)


class EstablishmentView(NamedTuple):
    """One establishment of an academy as its page and its API show it."""

    years: list[int]
    year: int | None  # None: nothing known yet
    classes: list[web_sql.ClassRow]
    counts: Counts | None
    users: EstablishmentUsers


async def establishment_view(conn: Connection, code: str, uai: str, asked: int | None,
                             today: date) -> EstablishmentView | None:
    """None when the establishment is not of this academy (the caller answers 404)."""
    if not await indicators_sql.establishment_in(conn, uai, [code]):
        return None
    years = await web_sql.school_years(conn, uai)
    year = chosen_year(years, asked)
    classes = [] if year is None else await web_sql.classes(conn, uai, year)
    counts = None if year is None else await establishment_counts(conn, code, uai, year, today)
    return EstablishmentView(years, year, classes, counts, await establishment_users(conn, uai))
