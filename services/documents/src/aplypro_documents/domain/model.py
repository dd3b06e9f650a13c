"""Content of the four official documents (documents.md §1, §5): plain frozen dataclasses.

Money is integer cents and is formatted only by the templates; dates are `date`.
"""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from aplypro_documents.domain.errors import InvalidDocumentError, UnknownMinistryError


class DocumentKind(StrEnum):
    ATTRIBUTION = "attribution"
    ABROGATION = "abrogation"
    WITHDRAWAL = "withdrawal"
    LIQUIDATION = "liquidation"


class Ministry(StrEnum):
    """BCN MINISTERE of the MEF, normalised as in calculation.md §2.2."""

    MENJ = "MENJ"
    MASA = "MASA"
    MER = "MER"
    ARMEES = "ARMEES"

    @classmethod
    def parse(cls, raw: str) -> "Ministry":
        value = raw.strip().upper()
        if value in {"ARMEE", "ARMÉES", "ARMÉE"}:
            value = "ARMEES"
        try:
            return cls(value)
        except ValueError:
            raise UnknownMinistryError(f"unknown ministry {raw!r}") from None


class AbrogationMotive(StrEnum):
    """Why a DA is abrogated; each refers to article 6 of the DA."""

    TRAINING_CHANGED = "training_changed"
    ESTABLISHMENT_LEFT = "establishment_left"  # changed establishment or left it


@dataclass(frozen=True, slots=True)
class PostalAddress:
    line1: str = ""
    line2: str = ""
    postcode: str = ""
    city: str = ""


@dataclass(frozen=True, slots=True)
class Student:
    last_name: str
    first_names: str
    birth_date: date
    address: PostalAddress = PostalAddress()


@dataclass(frozen=True, slots=True)
class Establishment:
    uai: str
    name: str
    address: PostalAddress
    email: str
    phone: str


@dataclass(frozen=True, slots=True)
class Signatory:
    """The confirmed director as they stood at issue time (documents.md §3).

    Together with the document's `establishment` this is the signatory snapshot.
    """

    user_id: str
    name: str
    function: str
    confirmed_at: datetime


@dataclass(frozen=True, slots=True)
class Training:
    mef_code: str
    label: str
    ministry: Ministry


@dataclass(frozen=True, slots=True)
class BankAccount:
    iban: str
    bic: str
    holder: str


def _check_cents(*amounts: int) -> None:
    for amount in amounts:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise InvalidDocumentError(f"amounts are non-negative integer cents, got {amount!r}")


def _check_version(version: int) -> None:
    if version < 1:
        raise InvalidDocumentError(f"versions start at 1, got {version}")


@dataclass(frozen=True, slots=True)
class AttributionDecision:
    """Décision d'attribution annuelle (DA), one per schooling and version."""

    kind: ClassVar[DocumentKind] = DocumentKind.ATTRIBUTION
    student: Student
    establishment: Establishment
    signatory: Signatory
    training: Training
    school_year: int
    daily_rate_cents: int
    yearly_cap_cents: int
    administrative_number: str
    number: str
    version: int
    issued_on: date

    def __post_init__(self) -> None:
        _check_cents(self.daily_rate_cents, self.yearly_cap_cents)
        _check_version(self.version)


@dataclass(frozen=True, slots=True)
class Abrogation:
    """Abrogation of a DA; `version` is the abrogation's own counter, never part of a number."""

    kind: ClassVar[DocumentKind] = DocumentKind.ABROGATION
    student: Student
    establishment: Establishment
    signatory: Signatory
    school_year: int
    administrative_number: str
    decision_number: str
    motives: tuple[AbrogationMotive, ...]
    version: int
    issued_on: date

    def __post_init__(self) -> None:
        _check_version(self.version)
        if not self.motives:
            raise InvalidDocumentError("an abrogation states at least one motive")


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """Retrait of a DA: the right never existed, sums already paid are recovered."""

    kind: ClassVar[DocumentKind] = DocumentKind.WITHDRAWAL
    student: Student
    establishment: Establishment
    signatory: Signatory
    school_year: int
    administrative_number: str
    decision_number: str
    decision_issued_on: date
    issued_on: date


@dataclass(frozen=True, slots=True)
class LiquidationSection:
    """One page of an état liquidatif: a PFMP as validated, or its rectificatif."""

    pfmp_number: str
    start_date: date
    end_date: date
    amount_cents: int
    dated_on: date  # validation date, or rectification date for a rectificatif
    rectificative: bool = False

    def __post_init__(self) -> None:
        _check_cents(self.amount_cents)


@dataclass(frozen=True, slots=True)
class LiquidationStatement:
    """État liquidatif of a schooling; `version` is shown as "(vN)" like the ASP portal does."""

    kind: ClassVar[DocumentKind] = DocumentKind.LIQUIDATION
    student: Student
    establishment: Establishment
    signatory: Signatory
    school_year: int
    administrative_number: str
    decision_number: str
    ministry: Ministry
    programme: str  # the budget programme as configured, printed next to the ministry's name
    bank_account: BankAccount
    version: int
    sections: tuple[LiquidationSection, ...]

    def __post_init__(self) -> None:
        _check_version(self.version)
        if not self.sections:
            raise InvalidDocumentError("an état liquidatif has at least one PFMP section")


Document = AttributionDecision | Abrogation | Withdrawal | LiquidationStatement


def abrogation_motives(
    *, mef_code: str, uai: str, newer_mef_code: str | None, newer_uai: str | None
) -> tuple[AbrogationMotive, ...]:
    """Motives that apply, from the abrogated schooling and the student's newer one (if any)."""
    motives: list[AbrogationMotive] = []
    if newer_mef_code is not None and newer_mef_code != mef_code:
        motives.append(AbrogationMotive.TRAINING_CHANGED)
    # Without a newer schooling the student left; a different UAI means they moved.
    if newer_uai is None or newer_uai != uai:
        motives.append(AbrogationMotive.ESTABLISHMENT_LEFT)
    # Same class, new status (e.g. now an apprentice): the student left school status.
    return tuple(motives) or (AbrogationMotive.ESTABLISHMENT_LEFT,)
