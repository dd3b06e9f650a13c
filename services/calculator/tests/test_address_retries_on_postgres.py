"""An address change retries a request the ASP rejected for a recognised reason (lifecycles.md §2,
Retries; asp-exchange.md §6.1), like a new RIB: on the real PostgreSQL, with the StudentRegistered of the
students service. Only a salted fingerprint of the address is kept; nothing of the identity is logged."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest
from aplypro_calculator.domain.addresses import address_fingerprint
from aplypro_contracts import (
    Address,
    Identity,
    SchoolingOpened,
    StudentAddressChanged,
    StudentIdentityChanged,
    StudentRegistered,
)
from structlog.testing import capture_logs

from .calculator_world import PREMIERE, Calc
from .test_retries_on_postgres import DEC, failed, new_rib

STREET, OTHER_STREET = "12 RUE DES LILAS", "3 PLACE DU MARCHE"


def registered(schooling: SchoolingOpened, street: str = STREET, city: str = "35238", *,
               last_name: str = "ZORGLUB") -> StudentRegistered:
    identity = Identity(ine="123456789AB", last_name=last_name, first_names=("Léa",), birth_date=date(2008, 3, 14),
                        address=Address(lines=(street,), postal_code="35000", city_insee=city,
                                        country_insee="99100"))
    return StudentRegistered(producer="students", version=1, student_id=schooling.student_id, identity=identity)


# --- the fingerprint, without a database ------------------------------------------------------------------

SID = uuid.uuid4()


def fp(lines: tuple[str, ...] = ("1 RUE A", "BAT B", "ESC 3"), postal: str | None = "35000",
       city: str | None = "35238", country: str | None = "99100", student: uuid.UUID = SID) -> str:
    return address_fingerprint(student, lines, postal, city, country)


def test_the_address_fingerprint_changes_with_what_the_asp_checks_only() -> None:
    base = fp()
    # Changes the ASP sees: line 1 or 2, postal code, commune, country.
    assert len({base, fp(("2 RUE A", "BAT B")), fp(("1 RUE A", "BAT C")), fp(postal="35200"), fp(city="35047"),
                fp(country="99134")}) == 6
    # Not a correction: a third line, case and spacing.
    assert fp(("1 RUE A", "BAT B", "ESC 4")) == base
    assert fp((" 1  rue a", "bat b", "ESC 3")) == base
    # Salted with the student: two students at one address never share a fingerprint.
    assert fp(student=uuid.uuid4()) != base


# --- on PostgreSQL -----------------------------------------------------------------------------------------

@pytest.mark.integration
async def test_an_address_change_retries_a_request_rejected_for_a_recognised_reason(calc: Calc) -> None:
    schooling = await calc.schooling(mef=PREMIERE)
    await calc.feed(registered(schooling))  # the address before: its fingerprint is the baseline
    address = await calc.validate(calc.pfmp(schooling, 3))
    other = await calc.validate(calc.pfmp(schooling, 2, start=DEC))
    await failed(calc, address, "rejected", "outdated_insee_code")
    await failed(calc, other, "rejected", "fallback_message")  # needs a person: the director relaunches

    # A name fixed, the address unchanged: nothing is retried.
    renamed = registered(schooling, last_name="ZORGLUBE")
    await calc.feed(StudentIdentityChanged(**renamed.model_dump(exclude={"event_type", "schema_version", "version"}),
                                           version=2, changed=("last_name",)))
    assert [r["state"] for r in await calc.requests(address.pfmp_id)] == ["rejected"]

    mark = await calc.mark()
    moved = registered(schooling, OTHER_STREET, "35047")
    with capture_logs() as logs:  # the school corrected the address: the students service's StudentAddressChanged
        await calc.feed(StudentAddressChanged(**moved.model_dump(exclude={"event_type", "schema_version", "version"}),
                                              version=3, changed=("address",)))
    assert [r["state"] for r in await calc.requests(address.pfmp_id)] == ["rejected", "ready"]
    assert [r["state"] for r in await calc.requests(other.pfmp_id)] == ["rejected"]
    [requested] = await calc.events(mark, "PaymentRequested")
    assert (requested.pfmp_id, requested.amount_cents) == (address.pfmp_id, 4500)
    flat = json.dumps(logs, default=str)
    for personal in ("ZORGLUB", OTHER_STREET, STREET, "35047", "123456789AB", "2008"):
        assert personal not in flat
    assert "payment_retried" in flat
    stored = await calc.db.fetchval("SELECT address_sha256 FROM student_addresses WHERE student_id = $1",
                                    schooling.student_id)
    assert len(stored) == 64  # a fingerprint (sha256), never the address

    await calc.feed(registered(schooling, OTHER_STREET, "35047"))  # the same address again: nothing more
    assert [r["state"] for r in await calc.requests(address.pfmp_id)] == ["rejected", "ready"]


@pytest.mark.integration
async def test_a_student_first_seen_after_the_rejection_is_retried_and_an_older_identity_never(calc: Calc) -> None:
    # Registered before fingerprints were kept: no baseline. The identity published after the rejection is
    # a change (the students service publishes only changes); one that occurred before it is not.
    schooling = await calc.schooling(mef=PREMIERE)
    before = registered(schooling, OTHER_STREET)
    pfmp = await calc.validate(calc.pfmp(schooling, 3))
    await failed(calc, pfmp, "rejected", "localisationgeographique_not_found")

    await calc.feed(before)  # delivered late, occurred before the rejection
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["rejected"]
    late = registered(schooling)
    await calc.feed(late.model_copy(update={"occurred_at": before.occurred_at.replace(year=2020)}))  # stale
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["rejected"]

    await calc.feed(registered(schooling, "7 IMPASSE NEUVE"))
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["rejected", "ready"]


@pytest.mark.integration
async def test_a_new_rib_also_retries_an_address_rejection(calc: Calc) -> None:
    # Every recognised reason is retried on either change (the old code: 8 bank reasons, RIB only).
    schooling = await calc.schooling(mef=PREMIERE)
    pfmp = await calc.validate(calc.pfmp(schooling, 3))
    await failed(calc, pfmp, "rejected", "hamlet")
    await calc.feed(new_rib(schooling))
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["rejected", "ready"]


@pytest.mark.integration
async def test_an_older_identity_version_stamped_later_never_replaces_the_newer_address(calc: Calc) -> None:
    # Two students replicas stamp occurred_at with their own clocks: the identity version orders the address.
    # Version 3 (the corrected address) is held; the ASP rejects on the street; version 2 (the address before),
    # delivered late and stamped a minute later by a replica running ahead, is no change: nothing is retried.
    schooling = await calc.schooling(mef=PREMIERE)
    corrected = registered(schooling, OTHER_STREET, "35047")
    await calc.feed(StudentAddressChanged(**corrected.model_dump(exclude={"event_type", "schema_version", "version"}),
                                          version=3, changed=("address",)))
    pfmp = await calc.validate(calc.pfmp(schooling, 3))
    await failed(calc, pfmp, "rejected", "outdated_insee_code")

    before = registered(schooling)
    late = StudentAddressChanged(**before.model_dump(exclude={"event_type", "schema_version", "version"}),
                                 version=2, changed=("address",))
    await calc.feed(late.model_copy(update={"occurred_at": corrected.occurred_at + timedelta(minutes=1)}))
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["rejected"]
    held = await calc.db.fetchval("SELECT identity_version FROM student_addresses WHERE student_id = $1",
                                  schooling.student_id)
    assert held == 3

    # The next real correction (version 4) is a change again: retried once.
    fixed = registered(schooling, "7 IMPASSE NEUVE")
    await calc.feed(StudentAddressChanged(**fixed.model_dump(exclude={"event_type", "schema_version", "version"}),
                                          version=4, changed=("address",)))
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["rejected", "ready"]
