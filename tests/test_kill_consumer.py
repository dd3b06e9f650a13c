"""SIGKILL the calculator while 5,000 PFMP events flow: nothing is lost, nothing is paid twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts import DocumentReady, Establishment, Mef, PfmpState, PfmpValidated, SchoolingOpened
from aplypro_contracts.topics import (
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    PFMP_EVENTS,
    STUDENTS_EVENTS,
    dead_letter_topic,
)
from aplypro_local.stack import LocalStack
from aplypro_local.testing import eventually, produce, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STUDENTS = 1000
PFMPS_PER_STUDENT = 5  # 10 days each at 20 €/day = 200 € each; 5 × 200 = the 1,000 € terminale cap
MEF = Mef(code="2473121133", dispositif="247", diploma="40025510", duration=3, year=3, label="BAC PRO",
          ministry="MENJ")


def decision(opened: SchoolingOpened) -> DocumentReady:
    """The schooling's décision d'attribution, as the documents service announces it (a payment gate)."""
    return DocumentReady(producer="test", document_id=uuid.uuid4(), kind="attribution",
                         schooling_id=opened.schooling_id, student_id=opened.student_id,
                         number="ENPUK7Q2M9X4TB20251", version=1, storage_ref="da.pdf", sha256="0" * 64,
                         size_bytes=1)


def pfmp_events() -> tuple[list[tuple[uuid.UUID, SchoolingOpened]], list[tuple[uuid.UUID, PfmpValidated]]]:
    schoolings, pfmps = [], []
    school = Establishment(uai="0999001K", name="LP test")
    for n in range(STUDENTS):
        student, schooling = uuid.uuid4(), uuid.uuid4()
        schoolings.append((student, SchoolingOpened(
            producer="test", schooling_id=schooling, student_id=student, establishment=school,
            class_label="TLE", school_year=2025, mef=MEF, start_date=date(2025, 9, 1), version=1)))
        for k in range(PFMPS_PER_STUDENT):
            start = date(2025, 10, 1) + timedelta(days=20 * k)
            pfmps.append((student, PfmpValidated(producer="test", pfmp=PfmpState(
                pfmp_id=uuid.uuid4(), schooling_id=schooling, student_id=student, start_date=start,
                end_date=start + timedelta(days=13), day_count=10, status="validated",
                created_seq=n * 10 + k, rank=k + 1, version=2))))
    return schoolings, pfmps


async def outbox_empty(conn: asyncpg.Connection, schema: str) -> bool:
    return bool(await conn.fetchval(f"SELECT count(*) = 0 FROM {schema}.outbox"))


def processes_of(namespace: str) -> list[int]:
    """Processes started for this test's stack (service, extra consumers, relay): they carry its namespace."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"APLYPRO_TOPIC_NAMESPACE={namespace}".encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-consumer-processes"])
async def test_a_killed_consumer_loses_nothing_and_duplicates_nothing(
    service_env: dict[str, str], tmp_path: Path, processes: int
) -> None:
    namespace = service_env["APLYPRO_TOPIC_NAMESPACE"]
    bootstrap, database_url = service_env["KAFKA_BOOTSTRAP_SERVERS"], service_env["DATABASE_URL"]
    stack = LocalStack(tmp_path, extra_env={**service_env, "APLYPRO_CONSUMER_MAX_RECORDS": "200",
                                            "APLYPRO_CONSUMER_PROCESSES": str(processes)})
    stack.start_servers()
    schema = f"{stack.schema_prefix}calculator"
    schoolings, pfmps = pfmp_events()
    poison = [(uuid.uuid4(), b"{broken"), (uuid.uuid4(), b'{"event_type": "PfmpValidated", "schema_version": 9}'),
              (uuid.uuid4(), b'{"event_type": "Teleported", "schema_version": 1}')]
    stack.start_service("calculator")
    try:
        await produce(bootstrap, namespace + STUDENTS_EVENTS, list(schoolings))
        await produce(bootstrap, namespace + DOCUMENTS_EVENTS, [(student, decision(s)) for student, s in schoolings])
        await produce(bootstrap, namespace + PFMP_EVENTS, [*pfmps[:2500], *poison, *pfmps[2500:]])
        conn = await asyncpg.connect(database_url)
        try:
            async def priced(at_least: int) -> bool:
                try:
                    n = await conn.fetchval(f"SELECT count(*) FROM {schema}.payment_requests")
                except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                    return False
                return bool(n >= at_least)

            # Narrated: let it process part of the stream, then kill it without warning.
            await eventually(lambda: priced(500), 120, "the first 500 payment requests")
            assert len(processes_of(namespace)) >= processes + 1  # the consumers, the relay (and a multiprocessing helper)
            stack.kill_service("calculator")
            done_before_restart = await conn.fetchval(f"SELECT count(*) FROM {schema}.payment_requests")
            assert done_before_restart < STUDENTS * PFMPS_PER_STUDENT, "killed too late to prove anything"

            async def orphans_gone() -> bool:
                return not processes_of(namespace)

            # Its extra consumer and its relay notice they lost their parent and stop.
            await eventually(orphans_gone, 30, "the killed instance's child processes to stop")
            stack.start_service("calculator")
            await eventually(lambda: priced(STUDENTS * PFMPS_PER_STUDENT), 240, "every payment request")
            await eventually(lambda: outbox_empty(conn, schema), 60, "the outbox to be published")
            await asyncio.sleep(2)  # a duplicate would show up now
            rows = await conn.fetch(f"SELECT pfmp_id, amount_cents FROM {schema}.pfmps")
            requests = await conn.fetchval(f"SELECT count(*) FROM {schema}.payment_requests")
        finally:
            await conn.close()
        assert len(rows) == STUDENTS * PFMPS_PER_STUDENT
        assert {r["amount_cents"] for r in rows} == {20000}
        assert requests == STUDENTS * PFMPS_PER_STUDENT
        # Every request was published, and no PFMP got two different payment requests.
        published = await read_topic(bootstrap, namespace + CALCULATOR_EVENTS)
        request_ids: dict[str, set[str]] = defaultdict(set)
        for record in published:
            body = json.loads(record.value)
            if body["event_type"] == "PaymentRequested":
                request_ids[body["pfmp_id"]].add(body["payment_request_id"])
        assert len(request_ids) == STUDENTS * PFMPS_PER_STUDENT
        assert all(len(ids) == 1 for ids in request_ids.values())
        # The dead-letter topic holds the three injected messages and nothing else.
        dead = await read_topic(bootstrap, dead_letter_topic(namespace + PFMP_EVENTS))
        assert sorted({r.value for r in dead}) == sorted(body for _, body in poison)
        # A clean stop (SIGTERM) stops the instance's children too.
        stack.stop_service("calculator")
        await eventually(orphans_gone, 30, "every process of the stopped instance to exit")
    finally:
        stack.stop()
