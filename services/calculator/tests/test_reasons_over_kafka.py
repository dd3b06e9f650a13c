"""The calculator's own reasons (lifecycles.md §4 #9, #10, #12, #14, #20, #21, #22) with the calculator as a
real process on the real broker and database: each student's facts, as their owners publish them, block the
request with its reason; the fix, published or run as a command, releases it (`ready`, handed to the gateway)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aplypro_contracts import (
    Envelope,
    Establishment,
    Mef,
    PaymentRequested,
    PaymentRequestStateChanged,
    PfmpRecorded,
    PfmpRectified,
    PfmpState,
    PfmpValidated,
    SchoolingOpened,
)
from aplypro_contracts.topics import (
    ASP_EVENTS,
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    PFMP_EVENTS,
    STUDENTS_EVENTS,
)
from aplypro_local.testing import eventually, produce, read_topic

from .calculator_on_broker import CalculatorProcess, calculator_process
from .calculator_world import OTHER_UAI, PREMIERE, REGISTRY, TERMINALE, UAI, UNPRICED
from .test_decisions_over_kafka import document, topics_exist

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
VALIDATED_AT = datetime(2025, 10, 20, 9, tzinfo=UTC)  # long past: the cool-down is over


def opened(student_id: uuid.UUID, *, mef: Mef = TERMINALE, uai: str = UAI, start: date = date(2025, 9, 1),
           end: date | None = None, schooling_id: uuid.UUID | None = None, version: int = 1) -> SchoolingOpened:
    return SchoolingOpened(producer="students", schooling_id=schooling_id or uuid.uuid4(), student_id=student_id,
                           establishment=Establishment(uai=uai, name="LP test"), class_label="TLE",
                           school_year=2025, mef=mef, start_date=start, end_date=end, version=version)


def pfmp(schooling: SchoolingOpened, days: int, start: date, length: int) -> PfmpState:
    return PfmpState(pfmp_id=uuid.uuid4(), schooling_id=schooling.schooling_id, student_id=schooling.student_id,
                     start_date=start, end_date=start + timedelta(days=length - 1), day_count=days,
                     status="validated", created_seq=1, rank=1, version=2)


def validated(state: PfmpState) -> PfmpValidated:
    return PfmpValidated(producer="pfmp", occurred_at=VALIDATED_AT, pfmp=state)


def recorded(state: PfmpState, **changes: Any) -> PfmpRecorded:
    return PfmpRecorded(producer="pfmp", pfmp=state.model_copy(update={**changes, "version": state.version + 1}))


async def test_the_calculators_reasons_block_requests_and_their_fixes_release_them_over_the_real_broker(
    service_env: dict[str, str], tmp_path: Path,
) -> None:
    namespace, bootstrap = service_env["APLYPRO_TOPIC_NAMESPACE"], service_env["KAFKA_BOOTSTRAP_SERVERS"]
    async with calculator_process(service_env, tmp_path) as calc:
        await _scenario(calc, namespace, bootstrap)


async def _scenario(calc: CalculatorProcess, namespace: str, bootstrap: str) -> None:
    stack = calc.stack
    state_of, request_of = calc.state_of, calc.request_of

    async def wait_for(expected: dict[uuid.UUID, tuple[str, list[str]]], what: str) -> None:
        async def check() -> bool:
            return {p: await state_of(p) for p in expected} == expected
        try:
            await eventually(check, 90, what)
        except AssertionError:  # name each request not where expected
            assert {p: await state_of(p) for p in expected} == expected
            raise

    async def send(topic: str, *events: tuple[uuid.UUID, Envelope]) -> None:
        await produce(bootstrap, namespace + topic, list(events))

    def command(*args: str, **env: str) -> None:
        saved = dict(stack.env)
        stack.env.update(env)  # a setting for this command only
        try:
            done = stack.run_command(["aplypro-calculator", *args])
        finally:
            stack.env.clear()
            stack.env.update(saved)
        assert done.returncode == 0, done.stderr

    topics = [namespace + t for t in (STUDENTS_EVENTS, PFMP_EVENTS, DOCUMENTS_EVENTS, CALCULATOR_EVENTS)]
    await eventually(lambda: topics_exist(bootstrap, topics), 60, "the topics")
    students = {name: uuid.uuid4() for name in ("overlap", "transfer", "days", "bareme", "excluded", "paid")}
    s = students
    # Facts of six students; each schooling has its DA unless said otherwise.
    overlap, days, paid = opened(s["overlap"]), opened(s["days"]), opened(s["paid"], mef=PREMIERE)
    premiere = opened(s["transfer"], mef=PREMIERE, end=date(2026, 1, 4))  # changed class on 5 January
    terminale = opened(s["transfer"], start=date(2026, 1, 5))
    bareme = opened(s["bareme"])  # its class loses its barème below, before any DA
    excluded = opened(s["excluded"], uai=OTHER_UAI)  # its school is excluded below, before any DA
    with_da = (overlap, days, paid, premiere, terminale)
    await send(DOCUMENTS_EVENTS, *((o.student_id, document(o, "attribution")) for o in with_da))
    await send(STUDENTS_EVENTS, *((o.student_id, o) for o in (*with_da, bareme, excluded)))
    first = pfmp(overlap, 5, date(2025, 10, 6), 10)
    second = pfmp(overlap, 3, date(2025, 10, 15), 5)  # shares 15 October with the first
    transferred = pfmp(terminale, 10, date(2026, 2, 2), 12)
    too_many_days = pfmp(days, 12, date(2025, 10, 6), 10)  # 12 days attested in 10 calendar days
    unpriced, excluded_pfmp = pfmp(bareme, 10, date(2025, 10, 6), 12), pfmp(excluded, 10, date(2025, 10, 6), 12)
    to_recover = pfmp(paid, 3, date(2025, 10, 6), 12)
    pfmps = (first, second, transferred, too_many_days, unpriced, excluded_pfmp, to_recover)
    await send(PFMP_EVENTS, *((p.student_id, validated(p)) for p in pfmps))

    # Paid 45 € at the ASP, then a system rectification to 0 days: a recovery while they are switched off.
    await wait_for({to_recover.pfmp_id: ("ready", [])}, "the request to pay")
    request = await request_of(to_recover.pfmp_id)
    assert request is not None
    await send(ASP_EVENTS, *((s["paid"], PaymentRequestStateChanged(
        producer="asp-gateway", payment_request_id=request["payment_request_id"], pfmp_id=to_recover.pfmp_id,
        student_id=s["paid"], state=state, version=version, **extra))
        for version, (state, extra) in enumerate([("sent", {}), ("integrated", {}),
                                                  ("paid", {"paid_amount": Decimal("45.00")})], 1)))
    await wait_for({to_recover.pfmp_id: ("paid", [])}, "the request paid")
    await send(PFMP_EVENTS, (s["paid"], PfmpRectified(
        producer="pfmp", initiated_by="system", requested_by="director-1", pfmp=to_recover.model_copy(
            update={"status": "rectified", "day_count": 0, "version": 3}))))
    # The class loses its MEF's barème; the school is excluded: both were waiting for their DA.
    await send(STUDENTS_EVENTS, (s["bareme"], opened(s["bareme"], mef=UNPRICED, schooling_id=bareme.schooling_id,
                                                      version=2)))
    command("exclusions", "add", OTHER_UAI)

    await wait_for({
        first.pfmp_id: ("incomplete", ["overlaps"]),
        second.pfmp_id: ("incomplete", ["overlaps"]),
        transferred.pfmp_id: ("incomplete", ["needs_abrogated_attributive_decision"]),
        too_many_days.pfmp_id: ("incomplete", ["pfmp"]),
        unpriced.pfmp_id: ("incomplete", ["pfmp_amount", "missing_attributive_decision", "mef_without_bareme"]),
        excluded_pfmp.pfmp_id: ("incomplete", ["pfmp_amount", "missing_attributive_decision",
                                               "excluded_schooling"]),
        to_recover.pfmp_id: ("pending", ["negative_rectification"]),
    }, "each request blocked with its reasons")

    # The fixes: a duplicate deleted, the earlier DA abrogated, the day count corrected, the class priced
    # again, the exclusion lifted, each DA issued, and downward corrections switched on.
    await send(PFMP_EVENTS, (s["overlap"], recorded(first, deleted=True)),
               (s["days"], recorded(too_many_days, day_count=10)))
    await send(DOCUMENTS_EVENTS, (s["transfer"], document(premiere, "abrogation")),
               (s["bareme"], document(bareme, "attribution")), (s["excluded"], document(excluded, "attribution")))
    await send(STUDENTS_EVENTS, (s["bareme"], opened(s["bareme"], schooling_id=bareme.schooling_id, version=3)))
    command("exclusions", "remove", OTHER_UAI)
    command("release-parked", APLYPRO_CALCULATOR_NEGATIVE_RECTIFICATIONS_ENABLED="true")

    released = {p.pfmp_id for p in pfmps if p is not first}
    await wait_for(dict.fromkeys(released, ("ready", [])), "every request released")
    # Handed to the gateway: a PaymentRequested for each (the recovery's is its second).
    events = [REGISTRY.parse(r.value) for r in await read_topic(bootstrap, namespace + CALCULATOR_EVENTS,
                                                                idle_s=2)]
    assert {e.pfmp_id for e in events if isinstance(e, PaymentRequested)} == released
