"""Events of the students service: students, schoolings and (on a restricted topic) bank details."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from .envelope import Envelope, Frozen
from .text import NO_CONTROL_CHARACTERS, AggregateVersion, Label, PersonName

HolderName = Annotated[str, StringConstraints(max_length=70, pattern=NO_CONTROL_CHARACTERS)]  # ASP: 70


class Address(Frozen):
    lines: tuple[Label, ...] = Field(default=(), max_length=4, description="Street lines only.")
    postal_code: Label | None = Field(default=None, examples=["35000"])
    city_insee: Label | None = Field(default=None, description="INSEE code of the commune.")
    city_name: Label | None = None
    country_insee: Label | None = Field(default="99100", description="INSEE country code; France is 99100.")


class Identity(Frozen):
    ine: Label = Field(description="National student id (personal data: never a key, header or log field).")
    last_name: PersonName
    first_names: tuple[PersonName, ...] = Field(min_length=1, max_length=3)
    birth_date: date
    sex: Literal["female", "male", "unknown"] = "unknown"
    birth_city_insee: Label | None = None
    birth_country_insee: Label | None = None
    address: Address = Field(default_factory=Address)


class Establishment(Frozen):
    uai: str = Field(pattern=r"^\d{7}[A-Z]$", description="Establishment id, 7 digits and a letter.")
    name: Label
    ministry: Label = Field(default="MENJ", description="Supervising ministry of the establishment.")
    academy_code: Label | None = None
    contract_type_code: Label = Field(default="99", description="99 = public; 10..60 = private under contract.")
    address_lines: tuple[Label, ...] = ()
    postal_code: Label | None = None
    city_name: Label | None = None
    email: Label | None = None
    phone: Label | None = None
    head_name: PersonName | None = Field(default=None, description="Confirmed director, signatory of decisions.")
    city_insee: Label | None = Field(
        default=None, description="INSEE code of the establishment's commune (directory `code_commune`): the "
        "ASP address of its students living abroad.")


class Mef(Frozen):
    """The BCN attributes of the training code: enough for the calculator to price it."""

    code: str = Field(pattern=r"^\d{10}$", examples=["2473111533"])
    dispositif: str = Field(pattern=r"^\d{3}$", examples=["247"])
    diploma: Label = Field(description="FORMATION_DIPLOME, 8 characters.", examples=["40021204"])
    duration: int | None = Field(default=None, description="DUREE_DISPOSITIF (years).")
    year: int | None = Field(default=None, description="ANNEE_DISPOSITIF (year within the training).")
    label: Label = Field(description="LIBELLE_LONG.")
    ministry: Label = Field(description="BCN MINISTERE: MENJ, MASA, MER, ...")


class StudentRegisteredV1(Envelope):
    """A student is known, or their identity changed: carries the full current identity."""

    event_type: Literal["StudentRegistered"] = "StudentRegistered"
    schema_version: Literal[1] = 1
    student_id: UUID = Field(description="Internal id; the Kafka key.")
    identity: Identity


StudentVersion = Annotated[int, Field(
    ge=0, description="Version of the student's identity and address: 1 when registered, the next one with each "
    "StudentIdentityChanged or StudentAddressChanged. A consumer applies an identity only if it is newer than the "
    "one it holds. 0: a StudentRegistered v1 upcast, older than any versioned identity.")]
IdentityField = Literal["ine", "last_name", "first_names", "birth_date", "sex"]
AddressField = Literal["address", "birth_city_insee", "birth_country_insee"]


class StudentRegisteredV2(Envelope):
    """A student is known for the first time: their full identity, version 1. Corrections come as
    StudentIdentityChanged / StudentAddressChanged (v1 re-sent this event for them, unversioned)."""

    event_type: Literal["StudentRegistered"] = "StudentRegistered"
    schema_version: Literal[2] = 2
    student_id: UUID = Field(description="Internal id; the Kafka key.")
    identity: Identity
    version: StudentVersion


class StudentIdentityChangedV1(Envelope):
    """A source corrected the student's names, birth date, sex or INE: the full new identity, its version and the
    names of the fields that changed (never their old values)."""

    event_type: Literal["StudentIdentityChanged"] = "StudentIdentityChanged"
    schema_version: Literal[1] = 1
    student_id: UUID = Field(description="Internal id; the Kafka key.")
    identity: Identity
    version: StudentVersion
    changed: tuple[IdentityField, ...] = Field(min_length=1, description="Fields of `identity` that changed.")


class StudentAddressChangedV1(Envelope):
    """A source corrected the student's address or birthplace: the full new identity, its version and the names
    of the fields that changed (never their old values)."""

    event_type: Literal["StudentAddressChanged"] = "StudentAddressChanged"
    schema_version: Literal[1] = 1
    student_id: UUID = Field(description="Internal id; the Kafka key.")
    identity: Identity
    version: StudentVersion
    changed: tuple[AddressField, ...] = Field(min_length=1, description="Fields of `identity` that changed.")


class _SchoolingOpened(Envelope):
    event_type: Literal["SchoolingOpened"] = "SchoolingOpened"
    schooling_id: UUID
    student_id: UUID
    establishment: Establishment
    class_label: Label
    school_year: int = Field(ge=2023, le=2100, description="Start year: 2025 means 2025-2026.")
    mef: Mef
    status: Literal["student", "apprentice", "other"] = "student"
    start_date: date
    end_date: date | None = None


class SchoolingOpenedV1(_SchoolingOpened):
    """A student is (or was) enrolled in a class: the full state of the schooling."""

    schema_version: Literal[1] = 1


class SchoolingOpenedV2(_SchoolingOpened):
    """A student is (or was) enrolled in a class: the full state of the schooling, with its version."""

    schema_version: Literal[2] = 2
    version: AggregateVersion


class _SchoolingState(Envelope):
    """The full state of a schooling, as each of its events after SchoolingOpened carries it."""

    schooling_id: UUID
    student_id: UUID = Field(description="The Kafka key.")
    establishment: Establishment
    class_label: Label
    school_year: int = Field(ge=2023, le=2100, description="Start year: 2025 means 2025-2026.")
    mef: Mef
    status: Literal["student", "apprentice", "other"] = "student"
    start_date: date
    end_date: date | None = None
    version: AggregateVersion = Field(description="The schooling's version (SchoolingOpened's sequence, +1 per "
                                      "change).")


SchoolingFieldV1 = Literal["status", "start_date", "end_date"]
SchoolingField = Literal["status", "start_date", "end_date", "establishment"]


class SchoolingChangedV1(_SchoolingState):
    """A source changed an open schooling's status or dates, or a closed one's end date, without closing or
    reopening it: the full new state and the names of the fields that changed."""

    event_type: Literal["SchoolingChanged"] = "SchoolingChanged"
    schema_version: Literal[1] = 1
    changed: tuple[SchoolingFieldV1, ...] = Field(min_length=1, description="Fields of the state that changed.")


class SchoolingChangedV2(_SchoolingState):
    """A source changed an open schooling's status or dates, or a closed one's end date, without closing or
    reopening it; or the establishments directory changed the schooling's establishment (name, address,
    director, city code...: `changed` names `establishment`). The full new state and the names of the fields
    that changed. v2 only widens `changed`: a v1 body is a v2 body."""

    event_type: Literal["SchoolingChanged"] = "SchoolingChanged"
    schema_version: Literal[2] = 2
    changed: tuple[SchoolingField, ...] = Field(min_length=1, description="Fields of the state that changed; "
                                                "`establishment`: the directory changed the establishment.")


class SchoolingClosedV1(_SchoolingState):
    """The schooling got an end date: the student left, moved to another class, or the year ended. The full
    state; `end_date_inferred` when no source gave the date (imports.md §5.5)."""

    event_type: Literal["SchoolingClosed"] = "SchoolingClosed"
    schema_version: Literal[1] = 1
    end_date: date
    end_date_inferred: bool = Field(description="The end date is ours (the day we saw the student gone), not "
                                    "the source's.")


class SchoolingReopenedV1(_SchoolingState):
    """A closed schooling lost its end date (the source removed it, or the student is back in the same class
    this year): the full state, open again."""

    event_type: Literal["SchoolingReopened"] = "SchoolingReopened"
    schema_version: Literal[1] = 1


class EstablishmentRegisteredV1(Envelope):
    """The establishments directory was loaded and holds this establishment: its reference data as the students
    service knows it now (no contact or director data). Published with every load of the directory, keyed by
    UAI, so that readers keep the ministry and sector that statistics group by (features.md §4)."""

    event_type: Literal["EstablishmentRegistered"] = "EstablishmentRegistered"
    schema_version: Literal[1] = 1
    uai: str = Field(pattern=r"^\d{7}[A-Z]$", description="Establishment id, 7 digits and a letter; the Kafka key.",
                     examples=["0999001K"])
    name: Label
    ministry: Label = Field(description="Supervising ministry of the establishment (directory `ministere_tutelle`).",
                            examples=["MENJ"])
    academy_code: Label | None = Field(default=None, examples=["14"])
    contract_type_code: Label = Field(description="Directory `code_type_contrat_prive`: 99 = public; 10, 20, 30, 31, "
                                      "40, 41, 60 = private under contract.", examples=["99"])


class ExclusionChangedV1(Envelope):
    """An operator added or lifted an exclusion in the students service (imports.md §6.2, calculation.md §4):
    an establishment, or one of its MEFs, optionally for one school year, outside the scheme. Keyed by UAI.
    The calculator applies it to its own list, so an exclusion is set once and payment follows it."""

    event_type: Literal["ExclusionChanged"] = "ExclusionChanged"
    schema_version: Literal[1] = 1
    uai: str = Field(pattern=r"^\d{7}[A-Z]$", description="Establishment id, 7 digits and a letter; the Kafka key.",
                     examples=["0999001K"])
    mef_code: str | None = Field(default=None, pattern=r"^\d{10}$",
                                 description="One MEF of the establishment; null: the whole establishment.")
    school_year: int | None = Field(default=None, ge=2000, le=2100,
                                    description="Start year (2025 = 2025-2026); null: every year.")
    excluded: bool = Field(description="True: the row was added; false: it was lifted.")
    version: AggregateVersion = Field(description="The students service's exclusion-change sequence: of two "
                                      "changes of one row, the higher version is the newer.")


class _RibRecorded(Envelope):
    event_type: Literal["RibRecorded"] = "RibRecorded"
    rib_id: UUID
    student_id: UUID
    establishment_uai: Label
    owner_type: Literal["personal", "other_person", "moral_person", "mandate"]
    holder_name: HolderName
    iban: Label = Field(description="Normalised IBAN (no spaces, upper case).")
    bic: str = Field(pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")


class RibRecordedV1(_RibRecorded):
    """Bank details of a student for one establishment. Restricted topic: personal data."""

    schema_version: Literal[1] = 1


class RibRecordedV2(_RibRecorded):
    """Bank details of a student for one establishment, with their version. Restricted topic: personal data."""

    schema_version: Literal[2] = 2
    version: AggregateVersion


class RibOnFileV1(Envelope):
    """A student has a current RIB for an establishment: the bank-data-free fact (no IBAN, BIC or holder) on
    the students topic, for services that must not read the restricted RIB topic (pfmp's validation needs
    a RIB for the PFMP's establishment, lifecycles.md §1). Published with each RibRecorded."""

    event_type: Literal["RibOnFile"] = "RibOnFile"
    schema_version: Literal[1] = 1
    rib_id: UUID
    student_id: UUID
    establishment_uai: Label
    owner_type: Literal["personal", "other_person", "moral_person", "mandate"]
    version: AggregateVersion = Field(description="The RibRecorded's version (the student's RIBs at this "
                                      "establishment).")


class StudentIneStatusChangedV1(Envelope):
    """The student API answered "not found" for the student's INE (usually a duplicate deleted in an INE
    reconciliation), or found it again. A fact of the students service for the payment gate `ine_not_found`
    (lifecycles.md §4 #2). Carries no INE: the student id is enough for every reader."""

    event_type: Literal["StudentIneStatusChanged"] = "StudentIneStatusChanged"
    schema_version: Literal[1] = 1
    student_id: UUID = Field(description="Internal id; the Kafka key.")
    ine_status: Literal["found", "not_found"]
    version: AggregateVersion = Field(description="The student's INE-status version (each change is the next).")


class SchoolingHiddenChangedV1(Envelope):
    """Staff hid a schooling of a registered student who never came (*Masqué(e) manuellement de la classe*),
    or reintegrated it (imports.md §5.9): a fact of the students service, entered through its internal API.
    Hidden schoolings are left out of counters, departure detection and bulk DAs. One event for both ways,
    so that one version sequence per schooling orders them."""

    event_type: Literal["SchoolingHiddenChanged"] = "SchoolingHiddenChanged"
    schema_version: Literal[1] = 1
    schooling_id: UUID
    student_id: UUID = Field(description="The Kafka key.")
    hidden: bool
    version: AggregateVersion = Field(description="The schooling's hide/reintegrate version (each change +1).")


class StudentsMergedV1(Envelope):
    """An operator merged two stored students found to be one person (imports.md §5.8, `aplypro-students
    merge-students`): `merged_id` is now a tombstone pointing to `survivor_id`, and later imports of its INE
    land on the survivor. Keyed by the survivor. Its moved schoolings follow as SchoolingOpened (student
    `survivor_id`, next version): readers re-point what they keep by `merged_id` (PFMPs, cap pools, DAs, RIBs)
    to the survivor, so that the survivor's and the merged student's PFMPs share one yearly cap. Ids only."""

    event_type: Literal["StudentsMerged"] = "StudentsMerged"
    schema_version: Literal[1] = 1
    survivor_id: UUID = Field(description="The student who remains; the Kafka key.")
    merged_id: UUID = Field(description="The student merged into the survivor (kept as a tombstone, never reused).")
    version: AggregateVersion = Field(description="The survivor's merge version (each merge into it is the next).")
