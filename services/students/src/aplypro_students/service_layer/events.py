"""Builds the outgoing contracts from our state: full state in every event, keyed by student_id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from aplypro_contracts import (
    Address,
    Establishment,
    EstablishmentRegistered,
    ExclusionChanged,
    Identity,
    Mef,
    RibOnFile,
    RibRecorded,
    SchoolingChanged,
    SchoolingClosed,
    SchoolingOpened,
    SchoolingReopened,
    SchoolingState,
    StudentAddressChanged,
    StudentIdentityChanged,
    StudentRegistered,
    StudentState,
)

from aplypro_students.domain import model, reference
from aplypro_students.domain.rib import BankDetails
from aplypro_students.domain.what_changed import SchoolingChange

PRODUCER = "students"


def student_registered(student_id: UUID, identity: model.Identity, correlation_id: UUID) -> StudentRegistered:
    """A student seen for the first time: their identity's version 1."""
    return StudentRegistered(producer=PRODUCER, correlation_id=correlation_id, student_id=student_id,
                             identity=_identity(identity), version=1)


def student_corrected(student_id: UUID, identity: model.Identity, version: int, identity_fields: tuple[str, ...],
                      address_fields: tuple[str, ...], correlation_id: UUID) -> list[StudentState]:
    """A correction: StudentIdentityChanged and/or StudentAddressChanged, each with the full new identity. Both
    kinds in one import are two events, identity first; `version` is the last one's, each event has its own."""
    kinds: list[tuple[type[StudentIdentityChanged] | type[StudentAddressChanged], tuple[str, ...]]] = [
        (StudentIdentityChanged, identity_fields), (StudentAddressChanged, address_fields)]
    kinds = [(model_, fields) for model_, fields in kinds if fields]
    full = _identity(identity)
    return [model_(producer=PRODUCER, correlation_id=correlation_id, student_id=student_id, identity=full,
                   version=version - len(kinds) + 1 + i, changed=fields)
            for i, (model_, fields) in enumerate(kinds)]


def _identity(identity: model.Identity) -> Identity:
    a = identity.address
    return Identity(
        ine=identity.ine, last_name=identity.last_name, first_names=identity.first_names,
        birth_date=identity.birth_date, sex=identity.sex.value, birth_city_insee=identity.birth_city_insee,
        birth_country_insee=identity.birth_country_insee,
        address=Address(lines=a.lines, postal_code=a.postal_code, city_insee=a.city_insee,
                        city_name=a.city_name, country_insee=a.country_insee),
    )


def schooling_event(view: Mapping[str, Any], change: SchoolingChange, changed: tuple[str, ...],
                    correlation_id: UUID) -> SchoolingState:
    """The event of a written schooling (domain.what_changed chose which), with its full state and version."""
    if change == "opened":
        return schooling_opened(view, correlation_id)
    state = schooling_state(view, correlation_id)
    if change == "closed":
        return SchoolingClosed(**state, end_date_inferred=view["end_date_inferred"])
    if change == "reopened":
        return SchoolingReopened(**state)
    return SchoolingChanged(**state, changed=changed)


def schooling_opened(view: Mapping[str, Any], correlation_id: UUID) -> SchoolingOpened:
    """`view` is a row of `postgres.schooling_views`: the schooling joined to its class, school and MEF."""
    return SchoolingOpened(**schooling_state(view, correlation_id))


def schooling_state(view: Mapping[str, Any], correlation_id: UUID) -> dict[str, Any]:
    """The fields every schooling event carries, from a row of `postgres.schooling_views`."""
    return dict(
        producer=PRODUCER, correlation_id=correlation_id, schooling_id=view["schooling_id"],
        student_id=view["student_id"], class_label=view["class_label"], school_year=view["school_year"],
        version=view["version"],
        status=view["status"], start_date=view["start_date"], end_date=view["end_date"],
        establishment=Establishment(
            uai=view["uai"], name=view["name"], ministry=view["ministry"], academy_code=view["academy_code"],
            contract_type_code=view["contract_type_code"], address_lines=tuple(view["address_lines"]),
            postal_code=view["postal_code"], city_name=view["city"], email=view["email"], phone=view["phone"],
            head_name=view["head_name"], city_insee=view["city_insee"],
        ),
        mef=Mef(code=view["mef_code"], dispositif=view["dispositif"], diploma=view["diploma"],
                duration=view["duration"], year=view["mef_year"], label=view["mef_label"],
                ministry=view["mef_ministry"]),
    )


def rib_recorded(rib_id: UUID, student_id: UUID, uai: str, details: BankDetails,
                 correlation_id: UUID, version: int) -> RibRecorded:
    """`version`: of the student's bank details at this establishment (each new RIB there is the next)."""
    return RibRecorded(
        producer=PRODUCER, correlation_id=correlation_id, rib_id=rib_id, student_id=student_id, version=version,
        establishment_uai=uai, owner_type=details.owner_type.value, holder_name=details.holder_name,
        iban=details.iban, bic=details.bic,
    )


def rib_on_file(recorded: RibRecorded) -> RibOnFile:
    """The RibRecorded without its bank details (no IBAN, BIC or holder), for the students topic."""
    return RibOnFile(
        producer=PRODUCER, correlation_id=recorded.correlation_id, causation_id=recorded.event_id,
        rib_id=recorded.rib_id, student_id=recorded.student_id, establishment_uai=recorded.establishment_uai,
        owner_type=recorded.owner_type, version=recorded.version,
    )


def establishment_registered(establishment: reference.Establishment, correlation_id: UUID) -> EstablishmentRegistered:
    """The directory's facts readers group statistics by; no address, contact or director name (not needed)."""
    e = establishment
    return EstablishmentRegistered(
        producer=PRODUCER, correlation_id=correlation_id, uai=e.uai, name=e.name, ministry=e.ministry,
        academy_code=e.academy_code, contract_type_code=e.contract_type_code)


def exclusion_changed(uai: str, mef_code: str | None, school_year: int | None, *, excluded: bool,
                      version: int) -> ExclusionChanged:
    """An exclusion row added (excluded) or lifted: the calculator applies it to its own list."""
    return ExclusionChanged(producer=PRODUCER, uai=uai, mef_code=mef_code, school_year=school_year,
                            excluded=excluded, version=version)
