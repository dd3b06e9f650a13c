"""Whose account an adult may be paid on (lifecycles.md §4 #18, `adult_wrong_owner_type`).

An adult must be paid on their own account (`personal`) or on a third party's under a signed mandate
(`mandate`); the account of another person (legal representative, third party) or of a legal person is
refused. Minors may use any owner type.
"""

from __future__ import annotations

from datetime import date

from aplypro_asp_gateway.domain.model import PendingRequest

ADULT_AGE = 18
REFUSED_FOR_ADULTS = frozenset({"other_person", "moral_person"})  # RibRecorded.owner_type values


def adulthood(birth_date: date) -> date:
    """The 18th birthday. Born on 29 February: 28 February, the earlier day, so an adult is never taken
    for a minor (which would pay them on another person's account)."""
    try:
        return birth_date.replace(year=birth_date.year + ADULT_AGE)
    except ValueError:
        return date(birth_date.year + ADULT_AGE, 2, 28)


def check_date(request: PendingRequest) -> date | None:
    """The PFMP's first day. A request from an older message has none: the day it was requested stands in,
    which is never earlier than the start, so the check can only be stricter, never more lenient."""
    return request.pfmp_start_date or request.requested_on


def wrong_owner_for_adult(birth_date: date, owner_type: str, on: date | None) -> bool:
    """True when the student is an adult on `on` and the account is not theirs nor under a mandate.
    Without any date the student is taken as an adult: never pay an adult on a third party's account."""
    if owner_type not in REFUSED_FOR_ADULTS:
        return False
    return on is None or adulthood(birth_date) <= on
