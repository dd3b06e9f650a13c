"""Rules for schoolings other ministries' systems push (imports.md §3.4): why one is rejected, and the record.

Each rejection is an exception with a stable `code`, the `reason-code` header the producer reads on its
`.rejected` topic; its message names the field, never the value (personal data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from aplypro_contracts.inbound import PRODUCER_ID, SchoolingReported

from aplypro_students.domain.calendar import AcademyCalendar, fallback
from aplypro_students.domain.model import Address, Identity, SchoolingRecord, SchoolingStatus, Sex

INE = re.compile(r"[0-9]{10}[A-Z]|[0-9]{9}[A-Z]{2}")  # the two national series (imports.md, vocabulary)
AGE_AT_START = (13, 30)  # a vocational high-school learner's age at the start of a schooling, inclusive


class InboundRejected(ValueError):
    """A producer's event we will not apply; the producer finds it on its `.rejected` topic."""

    code = "rejected"


class ProducerMismatch(InboundRejected):
    code = "producer_mismatch"


class UnknownEstablishment(InboundRejected):
    code = "unknown_establishment"


class EstablishmentOutOfScope(InboundRejected):
    code = "establishment_out_of_scope"


class NotStudentsProvider(InboundRejected):
    code = "not_students_provider"


class UnknownSchoolYear(InboundRejected):
    code = "unknown_school_year"


class UnknownMef(InboundRejected):
    code = "unknown_mef"


class InvalidIne(InboundRejected):
    code = "invalid_ine"


class ImpossibleDates(InboundRejected):
    code = "impossible_dates"


class RetractRefused(InboundRejected):
    """The schooling has a décision d'attribution or a payment request: withdrawing it is a human's call."""

    code = "retract_refused"


class UnknownRecord(InboundRejected):
    """A retraction of a record of which no schooling was ever applied: nothing to withdraw."""

    code = "unknown_record"


class RecordRetracted(InboundRejected):
    """A report of a record the producer retracted: a retraction is final (report it under a new id)."""

    code = "record_retracted"


# Every code a producer may read, contract errors included (they are the producer's doing too).
REJECTION_CODES = frozenset({
    "malformed", "unknown_event_type", "unsupported_schema_version", "schema_violation", "event_id_reused",
    *(cls.code for cls in (ProducerMismatch, UnknownEstablishment, EstablishmentOutOfScope, NotStudentsProvider,
                           UnknownSchoolYear, UnknownMef, InvalidIne, ImpossibleDates, RetractRefused, UnknownRecord,
                           RecordRetracted)),
})


def check_producer_id(producer: str) -> str:
    if not re.fullmatch(PRODUCER_ID, producer):
        raise ValueError("a producer id is 2 to 31 lower-case letters, digits or dashes, starting with a letter")
    return producer


def provider_of(producer: str) -> str:
    """The establishment's `students_provider` value naming this producer."""
    return f"events:{producer}"


@dataclass(frozen=True)
class Target:
    """What we know of the reported establishment."""

    ministry: str
    students_provider: str
    academy_code: str | None


def check_scope(producer: str, ministries: frozenset[str], target: Target | None) -> None:
    if target is None:
        raise UnknownEstablishment("schooling.establishment_uai: not in the establishment directory")
    if target.ministry not in ministries:
        raise EstablishmentOutOfScope("schooling.establishment_uai: its ministry is not one this producer "
                                      "reports for")
    if target.students_provider != provider_of(producer):
        raise NotStudentsProvider("schooling.establishment_uai: this producer is not the establishment's "
                                  "students provider")


def check_ine(ine: str) -> str:
    if not INE.fullmatch(ine):
        raise InvalidIne("student.ine: not 10 digits and a letter, or 9 digits and 2 letters, in upper case")
    return ine


def check_dates(event: SchoolingReported, academy_code: str | None, tolerance: timedelta,
                calendar: AcademyCalendar | None = None) -> None:
    """End before start, a start outside the school year (with `tolerance` before it), an implausible age.

    The school year's range is the academy's `calendar` (§6.3), else the fallback one."""
    s, birth = event.schooling, event.student.birth_date
    if s.end_date is not None and s.end_date < s.start_date:
        raise ImpossibleDates("schooling.end_date: before schooling.start_date")
    years = calendar or fallback(academy_code)
    if not years.first_day(s.school_year) - tolerance <= s.start_date <= years.last_day(s.school_year):
        raise ImpossibleDates("schooling.start_date: outside schooling.school_year")
    age = s.start_date.year - birth.year - ((s.start_date.month, s.start_date.day) < (birth.month, birth.day))
    if not AGE_AT_START[0] <= age <= AGE_AT_START[1]:
        raise ImpossibleDates(f"student.birth_date: age at schooling.start_date not between {AGE_AT_START[0]} "
                              f"and {AGE_AT_START[1]}")


def to_record(event: SchoolingReported) -> SchoolingRecord:
    """The neutral schooling record every source yields; an address left out keeps ours (empty Address)."""
    st, s = event.student, event.schooling
    a = st.address
    address = Address() if a is None else Address(a.lines, a.postal_code, a.city_insee, a.city_name,
                                                  a.country_insee)
    identity = Identity(st.ine, st.last_name, st.first_names, st.birth_date, Sex(st.sex), st.birth_city_insee,
                        st.birth_country_insee, address)
    return SchoolingRecord(1, identity, s.school_year, s.class_label, s.mef_code, SchoolingStatus(s.status),
                           s.start_date, s.end_date)
