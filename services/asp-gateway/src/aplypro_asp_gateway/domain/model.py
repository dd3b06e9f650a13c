"""What the gateway knows of a pending request (inputs) and the record it sends for it (output)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID


@dataclass(frozen=True)
class Student:
    last_name: str
    first_names: tuple[str, ...]
    birth_date: date
    sex: str  # "female", "male" or "unknown"
    birth_city_insee: str | None
    birth_country_insee: str | None
    postal_code: str | None
    city_insee: str | None
    country_insee: str | None


@dataclass(frozen=True)
class Schooling:
    uai: str
    contract_type_code: str
    mef_ministry: str
    school_year: int
    status: str
    yearly_cap_cents: int | None


@dataclass(frozen=True)
class Rib:
    rib_id: UUID
    owner_type: str
    holder_name: str
    iban: str
    bic: str


@dataclass(frozen=True)
class PendingRequest:
    """A pending payment request and whatever the projection holds for it (None = not received yet)."""

    payment_request_id: UUID
    record_id: int
    pfmp_id: UUID
    schooling_id: UUID
    student_id: UUID
    amount_cents: int
    pfmp_rank: int
    student: Student | None
    schooling: Schooling | None
    rib: Rib | None
    rectification: bool = False  # the request of a rectified PFMP (a new total, not a first payment)
    first_payment_sent: bool = False  # a file ever built already holds this PFMP's first-payment record
    # The day adulthood is checked on (lifecycles.md §4 #18): the PFMP's first day; None for a request from a
    # message older than PaymentRequested.pfmp_start_date, then `requested_on` is used (never earlier).
    pfmp_start_date: date | None = None
    requested_on: date | None = None
    ine_not_found: bool = False  # the student API lost the student's INE (students' StudentIneStatusChanged)
    decision_withdrawn: bool = False  # the schooling's DA was withdrawn (documents' DocumentReady `retrait`)


@dataclass(frozen=True)
class Parametrage:
    """Programme codes of `PARAMETRAGE` and of each record, plus the unité de suivi of each BOP."""

    site_operator: str
    user_code: str
    dispo: str
    presta_dispo: str
    dispositif: str
    unites_suivi: dict[str, str | None] = field(default_factory=dict)
    funding_off: frozenset[str] = frozenset()  # budget programmes switched off: their requests park


# --- What goes into the file: values already transliterated, cut, mapped and in whole euros. ---

@dataclass(frozen=True)
class FranceAddress:
    """Normal payment, lives in France (§4.4 "France")."""

    postal_code: str
    commune: str
    country: str = "99100"


Address = FranceAddress  # the other §4.4 variants (Etranger, Indu…, Correction…) join this union later


@dataclass(frozen=True)
class Person:
    title: str
    first_names: str
    last_name: str
    birth_date: date
    birth_country: str
    birth_commune: str | None  # only when born in France


@dataclass(frozen=True)
class BankAccount:
    holder: str
    bic: str
    country: str
    check_digits: str
    bban: str


@dataclass(frozen=True)
class PaymentRecord:
    """One `ENREGISTREMENT`: a first payment of one PFMP (no ASP ids, no modification attributes yet)."""

    record_id: int
    payment_request_id: UUID
    pfmp_id: UUID
    rib_id: UUID
    person: Person
    address: Address
    da_number: str
    pfmp_number: str
    department: str
    engaged_euros: int
    amount_euros: int
    unite_suivi: str
    bank: BankAccount


@dataclass(frozen=True)
class Blocked:
    payment_request_id: UUID
    reasons: tuple[str, ...]
