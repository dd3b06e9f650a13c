"""Reconciliation rules on plain values: identity merge, schooling upserts, closing the previous one."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from datetime import date
from uuid import UUID

from aplypro_students.domain.model import Address, Identity, Schooling, SchoolingRecord, SchoolingStatus, Sex
from aplypro_students.domain.reconcile import (
    Placement,
    closing_date,
    collapse,
    current_school_year,
    merge_identity,
    plan_schoolings,
)

TODAY = date(2025, 10, 15)
STUDENT, CLASS_A, CLASS_B = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
IDENTITY = Identity("000111223AB", "HADDAD", ("Mehdi",), date(2007, 11, 2), Sex.MALE, "35238", "99100",
                    Address(("8 rue Pasteur",), "35000", "35238", "RENNES", "99100"))


def record(label: str = "TLE", start: date = date(2025, 9, 1), end: date | None = None, *, line: int = 2,
           year: int = 2025) -> SchoolingRecord:
    return SchoolingRecord(line, IDENTITY, year, label, "2473121133", SchoolingStatus.STUDENT, start, end)


def ids() -> itertools.count[int]:
    return itertools.count(1)


def plan(placements: list[Placement], existing: list[Schooling]) -> list[Schooling]:
    counter = ids()
    return plan_schoolings(placements, existing, today=TODAY, new_id=lambda: UUID(int=next(counter)))


def test_the_school_year_turns_on_the_first_of_september() -> None:
    assert (current_school_year(date(2025, 8, 31)), current_school_year(date(2025, 9, 1))) == (2024, 2025)


def test_duplicate_rows_collapse_to_earliest_start_and_open_if_any_is_open() -> None:
    rows = [record(start=date(2025, 9, 8), end=date(2025, 12, 1), line=2), record(start=date(2025, 9, 1), line=5)]
    (merged,) = collapse(rows)
    assert (merged.line, merged.start_date, merged.end_date) == (2, date(2025, 9, 1), None)
    rows = [record(end=date(2025, 12, 1)), record(end=date(2026, 1, 5))]
    assert collapse(rows)[0].end_date == date(2026, 1, 5)


def test_a_source_that_sends_nothing_leaves_address_and_birthplace_unchanged() -> None:
    sent = Identity("000111223AB", "HADDAD-NOUR", ("Mehdi", "Ali"), date(2007, 11, 2), Sex.UNKNOWN,
                    address=Address(postal_code="35200"))
    merged = merge_identity(IDENTITY, sent)
    assert (merged.last_name, merged.first_names, merged.sex) == ("HADDAD-NOUR", ("Mehdi", "Ali"), Sex.UNKNOWN)
    assert (merged.birth_city_insee, merged.birth_country_insee) == ("35238", "99100")
    assert merged.address == replace(IDENTITY.address, postal_code="35200")
    assert merge_identity(IDENTITY, IDENTITY) == IDENTITY


def test_a_new_schooling_takes_the_record_dates_and_an_identical_one_changes_nothing() -> None:
    (new,) = plan([Placement(STUDENT, CLASS_A, record())], [])
    assert (new.schooling_id, new.start_date, new.end_date, new.school_year) == (UUID(int=1), date(2025, 9, 1),
                                                                                  None, 2025)
    assert plan([Placement(STUDENT, CLASS_A, record())], [new]) == []


def test_a_class_change_closes_the_previous_schooling_the_day_before() -> None:
    old = Schooling(uuid.uuid4(), STUDENT, CLASS_A, 2025, SchoolingStatus.STUDENT, date(2025, 9, 1), None)
    closed, opened = plan([Placement(STUDENT, CLASS_B, record("TLE B", start=date(2025, 10, 6)))], [old])
    assert (closed.schooling_id, closed.end_date, closed.end_date_inferred) == (old.schooling_id,
                                                                                 date(2025, 10, 5), False)
    assert (opened.class_id, opened.end_date) == (CLASS_B, None)  # closings come first


def test_without_a_later_start_the_previous_one_closes_today_flagged_inferred() -> None:
    old = Schooling(uuid.uuid4(), STUDENT, CLASS_A, 2025, SchoolingStatus.STUDENT, date(2025, 9, 8), None)
    closed, _ = plan([Placement(STUDENT, CLASS_B, record("TLE B", start=date(2025, 9, 1)))], [old])
    assert (closed.end_date, closed.end_date_inferred) == (TODAY, True)


def test_a_past_year_closes_on_its_last_day_and_is_never_reopened() -> None:
    past = Schooling(uuid.uuid4(), STUDENT, CLASS_A, 2024, SchoolingStatus.STUDENT, date(2024, 9, 2), None)
    closed, _ = plan([Placement(STUDENT, CLASS_B, record("TLE B"))], [past])
    assert closed.end_date == date(2025, 8, 31)
    ended = replace(past, end_date=date(2025, 6, 30))
    assert plan([Placement(STUDENT, CLASS_A, record("1ERE", start=date(2024, 9, 2), year=2024))], [ended]) == []


def test_current_year_dates_follow_the_source_and_reopen() -> None:
    ended = Schooling(uuid.uuid4(), STUDENT, CLASS_A, 2025, SchoolingStatus.STUDENT, date(2025, 9, 1),
                      date(2025, 9, 30), end_date_inferred=True)
    (reopened,) = plan([Placement(STUDENT, CLASS_A, record())], [ended])
    assert (reopened.end_date, reopened.end_date_inferred) == (None, False)


def test_closing_dates_never_precede_the_start() -> None:
    assert closing_date(date(2025, 11, 1), date(2025, 9, 1), same_year=True, in_current_year=True,
                        year_end=date(2026, 8, 31), today=TODAY) == (date(2025, 11, 1), True)
