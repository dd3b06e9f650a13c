"""Which event each change is (imports.md §5.2, §5.10), without a database: domain.what_changed."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import pytest
from aplypro_students.domain.model import Address, Identity, Schooling, SchoolingStatus, Sex
from aplypro_students.domain.what_changed import identity_changes, schooling_change

IDENTITY = Identity(ine="000111223AB", last_name="HADDAD", first_names=("Mehdi",), birth_date=date(2007, 11, 2),
                    sex=Sex.MALE, birth_city_insee="35238", birth_country_insee="99100",
                    address=Address(lines=("8 rue Pasteur",), postal_code="35000", city_name="RENNES"))
OPEN = Schooling(uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3), 2025, SchoolingStatus.STUDENT,
                 date(2025, 9, 1), None)
CLOSED = replace(OPEN, end_date=date(2026, 1, 4), end_date_inferred=True)


@pytest.mark.parametrize(("change", "expected"), [
    ({"last_name": "HADDAD-NOUR", "sex": Sex.UNKNOWN}, (("last_name", "sex"), ())),
    ({"ine": "000111224AC"}, (("ine",), ())),
    ({"birth_city_insee": "29019"}, ((), ("birth_city_insee",))),
    ({"address": Address(lines=("3 place Hoche",))}, ((), ("address",))),
    ({"birth_date": date(2007, 11, 3), "address": Address()}, (("birth_date",), ("address",))),
    ({}, ((), ())),
])
def test_identity_and_address_fields_are_named_apart(change: dict[str, object],
                                                     expected: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
    assert identity_changes(IDENTITY, replace(IDENTITY, **change)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("before", "after", "expected"), [
    (None, OPEN, ("opened", ())),
    (None, CLOSED, ("opened", ())),  # first seen already ended: still its opening, with the end date
    (OPEN, CLOSED, ("closed", ())),
    (CLOSED, OPEN, ("reopened", ())),
    (OPEN, replace(OPEN, start_date=date(2025, 9, 8)), ("changed", ("start_date",))),
    (OPEN, replace(OPEN, status=SchoolingStatus.APPRENTICE), ("changed", ("status",))),
    (CLOSED, replace(CLOSED, end_date=date(2026, 2, 1), end_date_inferred=False), ("changed", ("end_date",))),
    # the source now gives the date we had inferred: the closing is restated, no longer inferred
    (CLOSED, replace(CLOSED, end_date_inferred=False), ("closed", ())),
])
def test_each_schooling_change_is_one_event(before: Schooling | None, after: Schooling,
                                            expected: tuple[str, tuple[str, ...]]) -> None:
    assert schooling_change(before, after) == expected
