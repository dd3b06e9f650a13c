"""The rules an inbound schooling is checked against (imports.md §3.4), each with its stable reason code."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aplypro_contracts.inbound import SchoolingReported, inbound_registry
from aplypro_servicekit.deadletter import SourceRecord
from aplypro_students.domain.inbound import (
    REJECTION_CODES,
    EstablishmentOutOfScope,
    ImpossibleDates,
    InboundRejected,
    InvalidIne,
    NotStudentsProvider,
    Target,
    UnknownEstablishment,
    check_dates,
    check_ine,
    check_scope,
    to_record,
)
from aplypro_students.entrypoints.inbound import rejection_row

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "producers.md"
TOLERANCE = timedelta(days=30)


def reported(**schooling: Any) -> SchoolingReported:
    text = GUIDE.read_text(encoding="utf-8").split("### Complete example", 1)[1]
    body = json.loads(text.split("```json\n", 1)[1].split("```", 1)[0])
    body["schooling"] |= schooling
    event = inbound_registry().parse(json.dumps(body))
    assert isinstance(event, SchoolingReported)
    return event


def test_the_guide_example_parses_and_passes_every_rule() -> None:
    event = reported()
    check_ine(event.student.ine)
    check_scope("mer", frozenset({"MER"}), Target("MER", "events:mer", "14"))
    check_dates(event, "14", TOLERANCE)
    record = to_record(event)
    assert (record.mef_code, record.class_label, record.end_date) == ("2472620311", "2NDE CGEM", None)
    assert record.identity.address.lines == ("3 impasse du Port",)


@pytest.mark.parametrize(("ministry", "provider", "error"), [
    (None, None, UnknownEstablishment), ("MENJ", "events:mer", EstablishmentOutOfScope),
    ("MER", "sygne", NotStudentsProvider), ("MER", "events:armees", NotStudentsProvider),
])
def test_the_producer_reports_only_for_establishments_of_its_ministries_it_provides(
        ministry: str | None, provider: str | None, error: type[InboundRejected]) -> None:
    target = None if ministry is None or provider is None else Target(ministry, provider, None)
    with pytest.raises(error):
        check_scope("mer", frozenset({"MER"}), target)


@pytest.mark.parametrize("ine", ["000111225ad", "00011122AD", "0001112255AD", "A00111225AD", " 000111225AD"])
def test_an_ine_outside_the_national_patterns_is_refused(ine: str) -> None:
    with pytest.raises(InvalidIne):
        check_ine(ine)
    check_ine("0001112255A")  # the older series: 10 digits and a letter


@pytest.mark.parametrize(("academy", "changes"), [
    ("14", {"start_date": "2025-09-02", "end_date": "2025-09-01"}),  # ends before it starts
    ("14", {"start_date": "2025-07-31"}),  # a month before the year's first day: past the 30-day tolerance
    ("14", {"start_date": "2026-09-01"}),  # after the year's last day (31 August 2026)
])
def test_impossible_dates_are_refused(academy: str, changes: dict[str, Any]) -> None:
    with pytest.raises(ImpossibleDates):
        check_dates(reported(**changes), academy, TOLERANCE)


def test_a_start_within_the_tolerance_and_la_reunion_s_august_start_pass() -> None:
    check_dates(reported(start_date="2025-08-02"), "14", TOLERANCE)
    check_dates(reported(start_date="2025-08-16"), "28", timedelta(0))  # La Réunion starts on 16 August
    with pytest.raises(ImpossibleDates):
        check_dates(reported(start_date="2025-08-16"), "14", timedelta(0))


@pytest.mark.parametrize(("birth", "possible"), [
    (date(2012, 9, 1), True), (date(2012, 9, 2), False),  # 13 on the start day; 12 the day after
    (date(1995, 9, 1), True), (date(1994, 9, 1), False),  # 30 years old; 31
])
def test_a_learner_under_13_or_over_30_at_the_start_is_impossible(birth: date, possible: bool) -> None:
    event = reported()
    event = event.model_copy(update={"student": event.student.model_copy(update={"birth_date": birth})})
    if possible:
        check_dates(event, "14", TOLERANCE)
        return
    with pytest.raises(ImpossibleDates, match=r"student\.birth_date"):
        check_dates(event, "14", TOLERANCE)


def test_a_rejection_carries_public_headers_and_our_own_failure_goes_to_the_operators_dead_letters() -> None:
    body = json.dumps({"event_id": "6f1c2a9e-1d7b-4c56-9a0e-3b8d5f20c417", "student": {"ine": "000111225AD"}})
    source = SourceRecord("aplypro.inbound.schoolings.mer", 1, 7, b"LPM-ELV-88213", body.encode(),
                          (("event-type", b"SchoolingReported"),))
    row = rejection_row(source, InvalidIne("student.ine: wrong"), service="students", attempts=1)
    assert row.topic == "aplypro.inbound.schoolings.mer.rejected"
    assert (row.key, row.payload) == (source.key, source.value)
    assert dict(row.headers) == {
        "event-type": "SchoolingReported", "reason-code": "invalid_ine", "reason": "student.ine: wrong",
        "event-id": "6f1c2a9e-1d7b-4c56-9a0e-3b8d5f20c417", "source-topic": "aplypro.inbound.schoolings.mer",
        "source-partition": "1", "source-offset": "7", "attempts": "1"}
    bug = rejection_row(source, KeyError("ours"), service="students", attempts=1)
    assert bug.topic == "aplypro.inbound.schoolings.mer.dlt"
    assert bug.headers["dlt-reason-code"] == "processing_error"


def test_every_rejection_code_is_in_the_guide() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    assert {code for code in REJECTION_CODES if f"| `{code}` |" not in guide} == set()
