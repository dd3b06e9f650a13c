"""Reconciliation rules (imports.md §5.2–5.5): merge identities, upsert schoolings, close the previous one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from uuid import UUID

from aplypro_students.domain.calendar import AcademyCalendar, fallback
from aplypro_students.domain.model import Address, Identity, Schooling, SchoolingRecord


def current_school_year(today: date, academy_code: str | None = None,
                        calendar: AcademyCalendar | None = None) -> int:
    """The school year containing `today` for the academy: from its calendar when given, else the fallback."""
    return (calendar or fallback(academy_code)).school_year_of(today)


def school_year_end(school_year: int, academy_code: str | None = None,
                    calendar: AcademyCalendar | None = None) -> date:
    """Last day of the school year's range: the day before the next year's first, so two years never share one."""
    return (calendar or fallback(academy_code)).last_day(school_year)


def collapse(records: Iterable[SchoolingRecord]) -> list[SchoolingRecord]:
    """Several records for one student and class: earliest start; open if any is open, else latest end."""
    merged: dict[tuple[str, int, str, str], SchoolingRecord] = {}
    for record in records:
        key = (record.identity.ine, record.school_year, record.class_label, record.mef_code)
        seen = merged.get(key)
        if seen is None:
            merged[key] = record
            continue
        ends = [seen.end_date, record.end_date]
        end = None if None in ends else max(d for d in ends if d is not None)
        # the latest row carries the identity and status; the first keeps its line for the report
        merged[key] = replace(record, line=seen.line, start_date=min(seen.start_date, record.start_date),
                              end_date=end)
    return list(merged.values())


def merge_identity(current: Identity | None, sent: Identity) -> Identity:
    """The source is the authority for names, birth date and sex; what it leaves empty stays unchanged."""
    if current is None:
        return sent
    old, new = current.address, sent.address
    address = Address(
        lines=new.lines or old.lines,
        postal_code=_first(new.postal_code, old.postal_code),
        city_insee=_first(new.city_insee, old.city_insee),
        city_name=_first(new.city_name, old.city_name),
        country_insee=_first(new.country_insee, old.country_insee),
    )
    return replace(
        sent, ine=current.ine, address=address,
        birth_city_insee=_first(sent.birth_city_insee, current.birth_city_insee),
        birth_country_insee=_first(sent.birth_country_insee, current.birth_country_insee),
    )


def _first(value: str | None, fallback: str | None) -> str | None:
    return value if value is not None else fallback


def closing_date(open_start: date, new_start: date, *, same_year: bool, in_current_year: bool,
                 year_end: date, today: date) -> tuple[date, bool]:
    """End date (and whether it is inferred) of an open schooling when a newer one appears (§5.5)."""
    if new_start > open_start:
        end, inferred = (new_start - timedelta(days=1) if same_year else year_end), False
    else:
        # Without a later start we cannot know when the student left.
        end, inferred = (today if in_current_year else year_end), in_current_year
    return max(end, open_start), inferred  # end ≥ start is an invariant, even on odd source dates


@dataclass(frozen=True)
class Placement:
    """A record whose student and class are resolved to ids."""

    student_id: UUID
    class_id: UUID
    record: SchoolingRecord


def _applied(existing: Schooling | None, p: Placement, current_year: int, new_id: Callable[[], UUID]) -> Schooling:
    r = p.record
    if existing is None:
        return Schooling(new_id(), p.student_id, p.class_id, r.school_year, r.status, r.start_date, r.end_date)
    if r.school_year >= current_year:  # current year: the source's dates win, an open record reopens
        return replace(existing, status=r.status, start_date=r.start_date, end_date=r.end_date,
                       end_date_inferred=False)
    if r.end_date is None:  # past years are never reopened by an open-ended record
        return replace(existing, status=r.status, start_date=r.start_date)
    return replace(existing, status=r.status, start_date=r.start_date, end_date=r.end_date,
                   end_date_inferred=False)


def plan_schoolings(placements: list[Placement], existing: list[Schooling], *, today: date,
                    new_id: Callable[[], UUID], academy_code: str | None = None,
                    calendar: AcademyCalendar | None = None) -> list[Schooling]:
    """The schoolings to write (new or changed), closings first so one open per student always holds.

    `academy_code` / `calendar`: the importing establishment's academy and its calendar (else the fallback),
    whose school years apply (to the schoolings it closes elsewhere too: a move between academies within
    one import is not told apart)."""
    current_year = current_school_year(today, academy_code, calendar)
    by_key = {(s.student_id, s.class_id): s for s in existing}
    state = {s.schooling_id: s for s in existing}
    from_file: dict[UUID, list[Schooling]] = {}
    for p in placements:
        schooling = _applied(by_key.get((p.student_id, p.class_id)), p, current_year, new_id)
        state[schooling.schooling_id] = schooling
        from_file.setdefault(p.student_id, []).append(schooling)
    by_student: dict[UUID, list[Schooling]] = {}
    for s in state.values():
        by_student.setdefault(s.student_id, []).append(s)
    for student_id, mine in from_file.items():
        open_ones = [s for s in mine if s.is_open]
        if not open_ones:
            continue  # the file closes or leaves closed: other open schoolings are not ours to close
        keeper = max(open_ones, key=lambda s: s.start_date)  # max keeps the first of equal starts
        others = [s for s in by_student[student_id] if s.is_open and s.schooling_id != keeper.schooling_id]
        for other in others:
            end, inferred = closing_date(
                other.start_date, keeper.start_date, same_year=other.school_year == keeper.school_year,
                in_current_year=other.school_year == current_year,
                year_end=school_year_end(other.school_year, academy_code, calendar), today=today,
            )
            state[other.schooling_id] = replace(other, end_date=end, end_date_inferred=inferred)
    before = {s.schooling_id: s for s in existing}
    changed = [s for s in state.values() if before.get(s.schooling_id) != s]
    return sorted(changed, key=lambda s: s.end_date is None)  # stable: closings, then open ones
