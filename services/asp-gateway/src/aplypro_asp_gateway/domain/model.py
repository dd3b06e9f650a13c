"""What the gateway knows of a pending request (inputs) and the record it sends for it (output)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from aplypro_asp_gateway.domain.errors import InvalidAspId


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
    address_lines: tuple[str, ...] = ()  # street lines: sent only in the Indu variants (§4.4)
    city_name: str | None = None  # LOCALITEETRANGER of a student living abroad


@dataclass(frozen=True)
class Schooling:
    uai: str
    contract_type_code: str
    mef_ministry: str
    school_year: int
    status: str
    yearly_cap_cents: int | None
    # The establishment's commune (INSEE) and postal code: the address of a student living abroad (§4.4 Etranger)
    establishment_city_insee: str | None = None
    establishment_postal_code: str | None = None


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
    decision_withdrawn: bool = False  # the schooling's DA was withdrawn (documents' DocumentIssued `retrait`)
    schooling_hidden: bool = False  # removed by staff or retracted by its producer (students' SchoolingHiddenChanged)
    # What the ASP returned for the PFMP (domain/rectification.py): its ids (integration line), the total it
    # holds as paid (None: never paid), and whether another request of the PFMP is still sent or integrated.
    asp_ids: AspIds | None = None
    asp_paid_cents: int | None = None
    pfmp_in_flight: bool = False
    # The schooling's latest DA number as the documents service issued it (DocumentIssued `attribution`, or its
    # DocumentReady); None: not received yet (missing_attributive_decision). The PFMP number a file already carried for this PFMP:
    # it never changes (asp-exchange.md §4.3), whatever DA was reissued since; None: never sent. The number the
    # PFMP's état liquidatif printed (DocumentIssued `liquidation`); None: not announced (yet, or an older message).
    da_number: str | None = None
    pfmp_number_sent: str | None = None
    pfmp_number_printed: str | None = None
    # The ASP answered a request of the PFMP `unpaid` and paid none: a new request is a relaunch (rectification.py)
    pfmp_unpaid: bool = False
    # The PFMP's latest answered request was rejected for its account (asp_errors.BANK_REJECTIONS) and sent with
    # the RIB this request would take: a retry after a new RIB must not leave before the gateway has that RIB.
    rib_rejected: bool = False


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
    # §8.2: a rectification below what the ASP paid parks (negative_rectification) while this is on
    negative_rectification_blocked: bool = True
    # §4.4, §4.6: outdated or merged residence commune → the INSEE code the ASP knows (domain/communes.py)
    commune_exceptions: dict[str, str] = field(default_factory=dict)


# --- What goes into the file: values already transliterated, cut, mapped and in whole euros. ---

@dataclass(frozen=True)
class FranceAddress:
    """Normal payment, lives in France (§4.4 "France")."""

    postal_code: str
    commune: str
    country: str = "99100"


@dataclass(frozen=True)
class EtrangerAddress:
    """Normal payment, lives abroad: the establishment's commune and postal code in France (§4.4 "Etranger")."""

    commune: str
    postal_code: str
    country: str = "99100"


@dataclass(frozen=True)
class InduFranceAddress:
    """Rectification, lives in France: street lines so the ASP can mail a recovery order (§4.4 "InduFrance")."""

    street: str  # LIBELLEVOIE, at most 28 after abbreviation
    complement: str | None  # CPLTDISTRIBUTION, at most 38
    postal_code: str
    commune: str
    country: str = "99100"


@dataclass(frozen=True)
class InduEtrangerAddress:
    """Rectification, lives abroad: the real foreign address (§4.4 "InduEtranger", §7.6)."""

    country: str
    city: str  # LOCALITEETRANGER, never abbreviated
    postal_code: str  # BUREAUDISTRIBETRANGER, never abbreviated
    street: str | None  # VOIEPOINTGEOETRANGER
    district: str | None  # DISTRICTETRANGER and REGIONETRANGER (the same text twice)


@dataclass(frozen=True)
class CorrectionFranceAddress:
    """Address-correction file, lives in France: the address as RNVP normalised it (§4.4 "CorrectionFrance",
    §4.9); every text already ASCII, abbreviated and within its limit."""

    street: str  # LIBELLEVOIE (voieDen), at most 28
    postal_code: str  # CODEPOSTALCEDEX (RNVP codePostal)
    commune: str  # CODECOMINSEE (RNVP codeInsee, else the stored one)
    number: int | None = None  # NUMEROVOIE (voieNum)
    extension: str | None = None  # CODEEXTENSIONVOIE: B, T, Q or C
    road_type: str | None = None  # CODETYPEVOIE, at most 4
    complement: str | None = None  # CPLTDISTRIBUTION, at most 38
    country: str = "99100"


Address = FranceAddress | EtrangerAddress | InduFranceAddress | InduEtrangerAddress | CorrectionFranceAddress


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
class AspIds:
    """The ids the ASP returned at integration (digit strings, `xsd:long`): a record carrying them modifies
    what the ASP holds instead of creating it (§1, §4.3). Sent in every file once known: a new PFMP of an
    integrated dossier carries the individual's and the dossier's ids and no prestation id (the ASP creates
    the prestation); a new schooling of an integrated student carries only the individual's."""

    individu: str
    dossier: str | None = None
    prestation: str | None = None

    def __post_init__(self) -> None:
        if self.prestation is not None and self.dossier is None:
            raise InvalidAspId("a prestation id comes with its dossier's id")
        for value in (self.individu, self.dossier, self.prestation):
            if value is None:
                continue
            # Emitted verbatim as xsd:long attributes: anything else would sink the file (no value in the text).
            if not (value.isascii() and value.isdigit() and 0 < len(value) <= 18):
                raise InvalidAspId("an ASP id is a digit string of at most 18 digits")


@dataclass(frozen=True)
class PaymentRecord:
    """One `ENREGISTREMENT`: a first payment of one PFMP, or (with `asp_ids`) a modification of it (§8.1)."""

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
    asp_ids: AspIds | None = None  # None: a first payment, the ASP creates individual, dossier, prestation
    variant: str = "first_payment"  # first_payment, rectification_up, rectification_down, cancellation, relaunch
    # Whose ASP objects the record creates when it carries no id for them (one creation per file, §4.3)
    student_id: UUID | None = None
    schooling_id: UUID | None = None

    @property
    def first_payment(self) -> bool:
        """The record creates the PFMP's prestation (no prestation id): one per PFMP across every file ever."""
        return self.asp_ids is None or self.asp_ids.prestation is None


@dataclass(frozen=True)
class CorrectionRecord:
    """One `ENREGISTREMENT` of an address-correction file (§4.9): a PFMP the ASP holds, under the id of its
    latest payment request, with the three ASP ids, the Correction address and the bank block; no payment."""

    record_id: int
    payment_request_id: UUID
    pfmp_id: UUID
    person: Person
    address: Address  # CorrectionFranceAddress, or InduEtrangerAddress (= CorrectionEtranger)
    da_number: str
    pfmp_number: str
    department: str
    engaged_euros: int
    bank: BankAccount
    asp_ids: AspIds  # all three: the ASP updates what it holds, never creates

    def __post_init__(self) -> None:
        if self.asp_ids.dossier is None or self.asp_ids.prestation is None:
            raise InvalidAspId("a correction record carries the individual's, dossier's and prestation's ids")


@dataclass(frozen=True)
class KnownIds:
    """What the ASP already holds of a batch's students and schoolings, and what is on its way to it.

    `individuals` / `dossiers`: the ids an integration line gave, per student and per schooling. `in_flight_*`:
    the students and schoolings with a request in a file (`ready` or `sent`) and not answered yet, whose
    individual or dossier that request may be creating: a second creation would be refused as "n'est pas
    unique" (§4.3), so it waits. `overdue_*`: those of them whose every such request waits for its answer past
    the G5 timeout (§9.2): they still wait, under their own reason, for an operator to see."""

    individuals: dict[UUID, str] = field(default_factory=dict)
    dossiers: dict[UUID, str] = field(default_factory=dict)
    in_flight_students: frozenset[UUID] = frozenset()
    in_flight_schoolings: frozenset[UUID] = frozenset()
    overdue_students: frozenset[UUID] = frozenset()
    overdue_schoolings: frozenset[UUID] = frozenset()
    # The individual the ASP holds each dossier under: after a merge (imports.md §5.8) a moved schooling's dossier
    # stays under the merged student's individual, and a new PFMP of it names that one, as the ASP holds it.
    dossier_individuals: dict[UUID, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Blocked:
    payment_request_id: UUID
    reasons: tuple[str, ...]
    # Checked again at the next build without waiting for a data change: what holds it back is a record of the
    # same file, which may still be dropped from it (§4.8, a record breaking the XSD).
    recheck: bool = False
