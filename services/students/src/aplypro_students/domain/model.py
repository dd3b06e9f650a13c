"""Students, schooling records and schoolings as plain values; the reconciliation works on these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    UNKNOWN = "unknown"  # never guessed: payment is blocked later with a clear reason


class SchoolingStatus(StrEnum):
    STUDENT = "student"  # scolaire: the only payable status
    APPRENTICE = "apprentice"
    OTHER = "other"


@dataclass(frozen=True)
class Address:
    """A postal address; `None` (or no lines) means the source sent nothing for that field."""

    lines: tuple[str, ...] = ()
    postal_code: str | None = None
    city_insee: str | None = None
    city_name: str | None = None
    country_insee: str | None = None


@dataclass(frozen=True)
class Identity:
    ine: str
    last_name: str
    first_names: tuple[str, ...]
    birth_date: date
    sex: Sex = Sex.UNKNOWN
    birth_city_insee: str | None = None
    birth_country_insee: str | None = None
    address: Address = Address()


@dataclass(frozen=True)
class SchoolingRecord:
    """One row of a source, normalised: a student in a class of one establishment and school year."""

    line: int  # where it came from, for the report
    identity: Identity
    school_year: int
    class_label: str
    mef_code: str
    status: SchoolingStatus
    start_date: date
    end_date: date | None


@dataclass(frozen=True)
class Schooling:
    schooling_id: UUID
    student_id: UUID
    class_id: UUID
    school_year: int
    status: SchoolingStatus
    start_date: date
    end_date: date | None
    end_date_inferred: bool = False
    hidden: bool = False

    @property
    def is_open(self) -> bool:
        return self.end_date is None and not self.hidden
