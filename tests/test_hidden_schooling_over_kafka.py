"""A retracted schooling end to end, the calculator and the asp-gateway as real processes on the real broker and
database: the students service hides it (SchoolingHiddenChanged, as after an accepted SchoolingRetracted) while
a validated PFMP's request waits for its DA; the DA that arrives after the retraction (the events crossed)
releases nothing: the request stays blocked with `hidden_schooling`, nothing reaches the gateway. Staff
reintegrating the learner releases it into the gateway, nobody asking."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    DocumentReady,
    Establishment,
    Mef,
    PaymentRequestBlocked,
    PaymentRequested,
    PfmpState,
    PfmpValidated,
    RibOnFile,
    SchoolingHiddenChanged,
    SchoolingOpened,
    default_registry,
)
from aplypro_contracts.topics import CALCULATOR_EVENTS, DOCUMENTS_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS
from aplypro_local.stack import LocalStack
from aplypro_local.testing import eventually, produce, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
UAI = "0350001A"
MEF = Mef(code="2473121133", dispositif="247", diploma="40025510", duration=3, year=3,
          label="BAC PRO METIERS DE L'ELECTRICITE", ministry="MENJ")


async def test_a_retracted_schooling_is_not_paid_even_when_its_da_comes_after(
    service_env: dict[str, str], tmp_path: Path,
) -> None:
    namespace = service_env["APLYPRO_TOPIC_NAMESPACE"]
    bootstrap, database_url = service_env["KAFKA_BOOTSTRAP_SERVERS"], service_env["DATABASE_URL"]
    stack = LocalStack(tmp_path, extra_env=service_env)
    stack.start_servers()
    calc, gateway = f"{stack.schema_prefix}calculator", f"{stack.schema_prefix}asp_gateway"
    stack.start_service("calculator")
    stack.start_service("asp-gateway")
    conn = await asyncpg.connect(database_url)

    async def fetch(sql: str, *args: Any) -> Any:
        try:
            return await conn.fetchrow(sql, *args)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return None

    def request_is(pfmp_id: uuid.UUID, expected: tuple[str, list[str]]) -> Any:
        async def check() -> bool:
            row = await fetch(f"SELECT state, reasons FROM {calc}.payment_requests WHERE pfmp_id = $1 "
                              "ORDER BY seq DESC LIMIT 1", pfmp_id)
            return row is not None and (row["state"], list(row["reasons"])) == expected
        return check

    async def gateway_hides(hidden: bool) -> bool:
        row = await fetch(f"SELECT hidden FROM {gateway}.hidden_schoolings WHERE schooling_id = $1", schooling_id)
        return row is not None and row["hidden"] is hidden

    async def gateway_has_request() -> bool:
        return await fetch(f"SELECT 1 FROM {gateway}.payment_requests WHERE pfmp_id = $1", pfmp_id) is not None

    try:
        student, schooling_id, pfmp_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        schooling = SchoolingOpened(
            producer="students", schooling_id=schooling_id, student_id=student,
            establishment=Establishment(uai=UAI, name="LP test", academy_code="14"), class_label="TLE",
            school_year=2025, mef=MEF, start_date=date(2025, 9, 1), end_date=None, version=1)
        await produce(bootstrap, namespace + STUDENTS_EVENTS, [
            (student, schooling),
            (student, RibOnFile(producer="students", rib_id=uuid.uuid4(), student_id=student,
                                establishment_uai=UAI, owner_type="personal", version=1))])
        pfmp = PfmpState(pfmp_id=pfmp_id, schooling_id=schooling_id, student_id=student,
                         start_date=date(2025, 11, 3), end_date=date(2025, 11, 14), day_count=10,
                         status="validated", created_seq=1, rank=1, version=1)
        await produce(bootstrap, namespace + PFMP_EVENTS, [(student, PfmpValidated(producer="pfmp", pfmp=pfmp))])
        await eventually(request_is(pfmp_id, ("incomplete", ["missing_attributive_decision"])), 90,
                         "the request waiting for its DA")

        # The producer retracts the schooling (no DA, no request handed over yet): the students service hides it.
        await produce(bootstrap, namespace + STUDENTS_EVENTS, [(student, SchoolingHiddenChanged(
            producer="students", schooling_id=schooling_id, student_id=student, hidden=True, version=1))])
        await eventually(request_is(pfmp_id, ("incomplete", ["pfmp_amount", "missing_attributive_decision",
                                                             "hidden_schooling"])), 90, "the request blocked as hidden")
        # The DA documents rendered before it saw the hiding arrives after it: still blocked, with its reason.
        await produce(bootstrap, namespace + DOCUMENTS_EVENTS, [(student, DocumentReady(
            producer="documents", document_id=uuid.uuid4(), kind="attribution", schooling_id=schooling_id,
            student_id=student, number="ENPUK7Q2M9X4TB20251", version=1, storage_ref="a.pdf", sha256="0" * 64,
            size_bytes=1024))])
        await eventually(request_is(pfmp_id, ("incomplete", ["pfmp_amount", "hidden_schooling"])), 90,
                         "the request still blocked once the DA is known")
        await eventually(lambda: gateway_hides(True), 60, "the gateway knows the schooling is hidden")
        assert not await gateway_has_request()  # nothing for it can go into a payment file

        # Staff reintegrate the learner (version 2): released into the gateway, nobody asking.
        await produce(bootstrap, namespace + STUDENTS_EVENTS, [(student, SchoolingHiddenChanged(
            producer="students", schooling_id=schooling_id, student_id=student, hidden=False, version=2))])
        await eventually(request_is(pfmp_id, ("ready", [])), 90, "the request released by the reintegration")
        await eventually(gateway_has_request, 60, "the request handed over to the gateway")

        registry = default_registry()
        calc_events = [registry.parse(r.value) for r in await read_topic(bootstrap, namespace + CALCULATOR_EVENTS,
                                                                         idle_s=2)]
        blocked = [(e.reasons, e.schema_version) for e in calc_events if isinstance(e, PaymentRequestBlocked)]
        assert blocked == [(("missing_attributive_decision",), 5),
                           (("pfmp_amount", "missing_attributive_decision", "hidden_schooling"), 5),
                           (("pfmp_amount", "hidden_schooling"), 5)]
        assert [(e.pfmp_id, e.amount_cents) for e in calc_events if isinstance(e, PaymentRequested)] == [
            (pfmp_id, 20000)]
    finally:
        await conn.close()
        alive = stack.alive()
        stack.stop()
    assert alive == {"calculator": True, "asp-gateway": True}
