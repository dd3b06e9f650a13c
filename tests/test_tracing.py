"""Traces across services: one students import, followed through Kafka to the calculator and the gateway,
and to the documents service, whose décision d'attribution (issued later, off its queue) the gateway reads.

The services run as real processes on the real broker and database, with tracing switched on and their
OTLP exporter pointed at an in-repo receiver (a real HTTP server) started by the test."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_local.demo import run_school
from aplypro_local.otlp_receiver import OtlpReceiver, ReceivedSpan
from aplypro_local.school import UAI, generate_school
from aplypro_local.stack import LocalStack

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")  # flags: sampled, random (W3C level 2)
ALLOWED_HEADERS = {"event-type", "schema-version", "content-type", "traceparent"}


def chain(spans: list[ReceivedSpan], leaf: ReceivedSpan) -> list[ReceivedSpan]:
    """The leaf and its ancestors, root last (stops at a parent not received)."""
    by_id = {s.span_id: s for s in spans if s.trace_id == leaf.trace_id}
    out = [leaf]
    while out[-1].parent_span_id and out[-1].parent_span_id in by_id:
        out.append(by_id[out[-1].parent_span_id])
    return out


def gateway_leaf(spans: list[ReceivedSpan], event_type: str, via: str) -> ReceivedSpan | None:
    """A gateway span of `event_type` whose ancestry goes through `via` and reaches the students' import."""
    for span in spans:
        if span.service == "asp-gateway" and span.name == f"{event_type} process":
            path = chain(spans, span)
            if not path[-1].parent_span_id and {"students", via} <= {s.service for s in path}:
                return span
    return None


async def headers_of(bootstrap: str, topic: str) -> list[list[tuple[str, bytes]]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=5000)
        return [list(r.headers) for records in batch.values() for r in records]
    finally:
        await consumer.stop()


@pytest.mark.e2e
@pytest.mark.slow
def test_one_trace_spans_the_import_the_calculator_and_the_gateway(service_env: dict[str, str],
                                                                   tmp_path: Path) -> None:
    receiver = OtlpReceiver().start()
    stack = LocalStack(tmp_path, extra_env={
        **service_env, "APLYPRO_OTEL_ENABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200"})
    stack.start_servers()
    for service in ("students", "calculator", "documents", "asp-gateway"):
        stack.start_service(service)
    try:
        school = generate_school(tmp_path / "school", students_per_class=2)
        for args in (["aplypro-students", "load-establishments", str(school.establishments)],
                     ["aplypro-students", "load-mefs", str(school.mefs), "--school-year", "2025"],
                     ["aplypro-students", "import-csv", str(school.students), "--uai", UAI]):
            result = stack.run_command(args)
            assert result.returncode == 0, result.stderr[-2000:]
        deadline = time.monotonic() + 120
        while (leaf := gateway_leaf(receiver.snapshot(), "SchoolingPriced", "calculator")) is None \
                or (document := gateway_leaf(receiver.snapshot(), "DocumentReady", "documents")) is None:
            assert time.monotonic() < deadline, f"no trace reached the gateway; {len(receiver.spans)} spans"
            assert all(stack.alive().values()), stack.alive()
            time.sleep(0.5)
        topic_headers = asyncio.run(headers_of(stack.env["KAFKA_BOOTSTRAP_SERVERS"],
                                               service_env["APLYPRO_TOPIC_NAMESPACE"] + STUDENTS_EVENTS))
    finally:
        stack.stop()
        receiver.stop()

    # import command (students) → published by the students relay → consumed by the calculator, which
    # prices the schooling → published by the calculator relay → consumed by the gateway: one trace.
    path = [(s.service, s.kind, s.name.split(" ")[-1]) for s in reversed(chain(receiver.snapshot(), leaf))]
    assert path == [
        ("students", "internal", "write"),
        ("students", "producer", "publish"),
        ("calculator", "consumer", "process"),
        ("calculator", "producer", "publish"),
        ("asp-gateway", "consumer", "process"),
    ], path
    assert chain(receiver.snapshot(), leaf)[2].name == "SchoolingOpened process"

    # The décision d'attribution is issued later by the documents service, off its queue: its
    # DocumentReady continues the trace of the student's event that documents handled (trace_context).
    path = [(s.service, s.kind, s.name) for s in reversed(chain(receiver.snapshot(), document))]
    assert path[:2] == [("students", "internal", "outbox write"), ("students", "producer", path[1][2])], path
    # In between, documents handled the student's latest event before issuing: the calculator's
    # SchoolingPriced (then the trace spans four services) or the students' own event.
    assert ("documents", "consumer") in [(service, kind) for service, kind, _ in path[2:-2]], path
    assert path[-2:] == [("documents", "producer", path[-2][2]), ("asp-gateway", "consumer", "DocumentReady process")]
    assert path[-2][2].endswith("aplypro.documents.events publish"), path

    # The headers carry the trace context and nothing else of ours: ids, never personal data.
    assert topic_headers
    for headers in topic_headers:
        assert {k for k, _ in headers} <= ALLOWED_HEADERS
        assert TRACEPARENT.match(dict(headers)["traceparent"].decode())


@pytest.mark.e2e
@pytest.mark.slow
def test_the_payment_file_continues_the_trace_of_the_validation(service_env: dict[str, str],
                                                                tmp_path: Path) -> None:
    """The last events: the payment file's moves (PaymentRequestsMoved, its requests `ready` at the build, then
    `sent` at the upload, built later on a timer) are in the trace one of their students' import started: through
    the DA, the validation, the calculator, the gateway. A group is one message, so one trace: its first
    student's."""
    receiver = OtlpReceiver().start()
    stack = LocalStack(tmp_path, extra_env={
        **service_env, "APLYPRO_OTEL_ENABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200", "APLYPRO_ASP_BUILD_INTERVAL_S": "0.5"})
    stack.start_servers()
    stack.start_all()

    def sent(spans: list[ReceivedSpan]) -> list[list[ReceivedSpan]]:
        return [path for s in spans if s.kind == "producer" and s.attributes.get("aplypro.event_type")
                == "PaymentRequestsMoved" and not (path := chain(spans, s))[-1].parent_span_id]

    try:
        run = run_school(stack, generate_school(tmp_path / "school", students_per_class=2), timeout=150)
        deadline = time.monotonic() + 30
        while len(found := sent(receiver.snapshot())) < 2:  # at least the build's group and the upload's
            assert time.monotonic() < deadline, f"{len(found)} groups of moves traced"
            time.sleep(0.5)
    finally:
        stack.stop()
        receiver.stop()
    assert run.figures["requests_sent"] > 0
    for path in found:
        # The student's import (students) → … its DA issued (documents: after the calculator priced the schooling,
        # so the calculator may come first there too) → the validation command (pfmp, which continues the
        # student's trace) → the request (calculator) → the payment file (asp-gateway).
        services = [s.service for s in reversed(path)]
        order = [services.index("students"), services.index("documents"), services.index("pfmp"),
                 len(services) - 1 - services[::-1].index("calculator"), services.index("asp-gateway")]
        assert order == sorted(order), [(s.service, s.name) for s in reversed(path)]
        assert services[0] == "students"
        assert path[0].service == "asp-gateway"


def test_tracing_is_off_by_default_and_loads_nothing() -> None:
    """Default local behaviour: no traceparent header is written and OpenTelemetry's API, SDK and exporter
    are never imported (faststream loads the `opentelemetry.semconv` namespace on its own)."""
    code = ("import sys\n"
            "from aplypro_servicekit import consumer, outbox, relay, tracing\n"
            "from aplypro_servicekit.settings import ServiceSettings\n"
            "from aplypro_contracts.students import StudentIneStatusChangedV1 as E\n"
            "import uuid\n"
            "assert not ServiceSettings().otel_enabled and not tracing.configure_tracing('x', False)\n"
            "e = E(producer='students', student_id=uuid.uuid4(), ine_status='found', version=1)\n"
            "row = outbox.event_row('t', e.student_id, e)\n"
            "assert 'traceparent' not in row.headers, row.headers\n"
            "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.trace', "
            "'opentelemetry.exporter', 'opentelemetry.context'))))\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("APLYPRO_OTEL", "OTEL_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
