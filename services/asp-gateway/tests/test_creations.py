"""Which first-payment record leaves with which ASP ids, and which waits (asp-exchange.md §4.3), without a
database: `build.assemble` with what the ASP already holds (`KnownIds`)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

from aplypro_asp_gateway.adapters import xsd
from aplypro_asp_gateway.domain.model import AspIds, Blocked, KnownIds, PaymentRecord
from aplypro_asp_gateway.domain.readiness import prepare
from aplypro_asp_gateway.service_layer.build import assemble

from .conftest import PARAMS, lea_request

BUILT_ON = date(2026, 5, 20)
STUDENT, SCHOOLING = uuid.uuid4(), uuid.uuid4()


def pfmp(rank: int, **changes: object) -> PaymentRecord:
    record = prepare(lea_request(record_id=rank, pfmp_rank=rank, student_id=STUDENT, schooling_id=SCHOOLING,
                                 **changes), PARAMS)
    assert isinstance(record, PaymentRecord)
    return record


def test_a_second_creation_in_the_file_waits_and_is_checked_again_at_the_next_build() -> None:
    composition = assemble([pfmp(1), pfmp(2)], set(), PARAMS, BUILT_ON, KnownIds())

    assert [r.record_id for r in composition.records] == [1]
    [waiting] = composition.blocked
    assert (waiting.reasons, waiting.recheck) == (("awaiting_asp_integration",), True)


def test_when_the_creator_breaks_the_schema_the_waiting_record_is_rechecked_not_stranded() -> None:
    broken = replace(pfmp(1), department="34")  # our XSD drops it after the second was held

    composition = assemble([broken, pfmp(2)], set(), PARAMS, BUILT_ON, KnownIds())

    assert composition.records == []
    assert sorted((b.reasons, b.recheck) for b in composition.blocked) == [
        (("asp_schema_invalid",), False), (("awaiting_asp_integration",), True)]


def test_known_ids_are_carried_and_the_file_is_valid() -> None:
    other_schooling = uuid.uuid4()
    new_schooling = prepare(lea_request(record_id=3, student_id=STUDENT, schooling_id=other_schooling), PARAMS)
    assert isinstance(new_schooling, PaymentRecord)
    known = KnownIds(individuals={STUDENT: "1234001"}, dossiers={SCHOOLING: "7654001"})

    composition = assemble([pfmp(1), pfmp(2), new_schooling], set(), PARAMS, BUILT_ON, known)

    assert composition.blocked == []
    assert [r.asp_ids for r in composition.records] == [AspIds("1234001", "7654001")] * 2 + [AspIds("1234001")]
    assert all(r.first_payment for r in composition.records)  # each still creates its PFMP's prestation
    assert composition.content is not None
    assert xsd.violations(composition.content) == []


def test_a_request_in_flight_holds_the_students_new_creations_only() -> None:
    known = KnownIds(in_flight_students=frozenset({STUDENT}), in_flight_schoolings=frozenset({SCHOOLING}))

    record = pfmp(1)

    composition = assemble([record], set(), PARAMS, BUILT_ON, known)

    # Not flagged for the next build: the ingest of the answer wakes it.
    assert composition.blocked == [Blocked(record.payment_request_id, ("awaiting_asp_integration",))]
    # The individual and the dossier known (say a modification of another PFMP is in flight): nothing waits.
    known = replace(known, individuals={STUDENT: "1234001"}, dossiers={SCHOOLING: "7654001"})
    assert assemble([record], set(), PARAMS, BUILT_ON, known).blocked == []
