"""W3C trace context through Kafka: OpenTelemetry spans per event consumed and per message published.

Off by default (`APLYPRO_OTEL_ENABLED`): then nothing of OpenTelemetry is imported and every hook here
is one flag test. On, each process exports its spans over OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT`
(or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; the SDK reads the standard `OTEL_*` settings: sampler, batch
delays, headers).

How a trace crosses services: the outbox row keeps, per message, the `traceparent` of the work that wrote
it (in the message's stored headers: a row holds messages of many events, so one column would not do);
the relay publishes each message under a producer span, child of that context; the consumer starts one
span per event handled, child of the record's `traceparent`, and the handler's own outbox writes carry
it on (per-event handlers: the current span; batch handlers: the span of the event named by the new
event's `causation_id`, else of its `correlation_id`). Work that waits in a table and writes later (a
document issued, a payment file) and commands (a validation) continue the trace of the latest event the
service handled for the same record key (`trace_context`, servicekit migration 0005): a student's story
is one trace. Only `traceparent` is ever written: random ids, never personal data (no `tracestate`, no
baggage).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from opentelemetry.trace import Span, SpanContext

TRACEPARENT = "traceparent"
ENABLED_VARIABLE = "APLYPRO_OTEL_ENABLED"
TRACER_NAME = "aplypro"

_enabled = False
_provider: Any = None  # this process's TracerProvider (its own: a test may install and remove one)
# The spans of the events the current consumer transaction handles: by event id and by correlation id.
_handled: ContextVar[tuple[Mapping[str, Span], Mapping[str, Span]] | None] = ContextVar("aplypro_handled",
                                                                                          default=None)


def enabled() -> bool:
    return _enabled


def wanted(value: str | None = None) -> bool:
    """Whether `APLYPRO_OTEL_ENABLED` (or `value`) switches tracing on."""
    raw = os.environ.get(ENABLED_VARIABLE, "") if value is None else value
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def configure_tracing(service: str, on: bool | None = None, *, processor: Any = None) -> bool:
    """Install the OTLP exporter for this process as `service` when tracing is wanted; returns whether on.

    Call once per process (service main, relay child, extra consumer processes, one-shot commands).
    `processor`: a span processor instead of the OTLP exporter's (tests: an in-memory exporter's).
    """
    global _enabled, _provider
    if not (wanted() if on is None else on):
        return False
    if _enabled:
        return True
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    if processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        processor = BatchSpanProcessor(OTLPSpanExporter())
    _provider = TracerProvider(resource=Resource.create({"service.name": service}))  # flushed at exit (atexit)
    _provider.add_span_processor(processor)
    _enabled = True
    return True


def disable() -> None:
    """Tracing off again in this process (tests), after exporting what is buffered."""
    global _enabled, _provider
    flush()
    _enabled, _provider = False, None


def flush() -> None:
    """Export what is buffered now (a one-shot command about to exit, a test)."""
    if _enabled and _provider is not None:
        _provider.force_flush()


def _tracer() -> Any:
    return _provider.get_tracer(TRACER_NAME)


def _parse(traceparent: str | None) -> Any:
    """The remote parent context of a `traceparent` value (a fresh trace if missing or malformed)."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    if not traceparent:
        return None
    return TraceContextTextMapPropagator().extract({TRACEPARENT: traceparent})


def format_traceparent(context: SpanContext) -> str | None:
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def _header(headers: Sequence[tuple[str, bytes]]) -> str | None:
    for key, value in headers:
        if key == TRACEPARENT:
            return value.decode("ascii", "replace")
    return None


# --- consuming -----------------------------------------------------------------------------------------

@contextmanager
def consuming(consumer: str, handled: Sequence[tuple[Any, Any]]) -> Iterator[None]:
    """One consumer span per (source record, event) handled, child of the record's `traceparent`, for the
    duration of the block (the transaction); outbox rows written inside carry them on."""
    if not _enabled or not handled:
        yield
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode

    tracer = _tracer()
    by_event: dict[str, Span] = {}
    by_correlation: dict[str, Span] = {}
    for source, event in handled:
        span = tracer.start_span(
            f"{event.event_type} process", context=_parse(_header(source.headers)), kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.operation.type": "process",
                        "messaging.destination.name": source.topic,
                        "messaging.destination.partition.id": str(source.partition),
                        "messaging.kafka.offset": source.offset, "messaging.consumer.group.name": consumer,
                        "messaging.message.id": str(event.event_id), "aplypro.event_type": event.event_type})
        by_event[str(event.event_id)] = span
        by_correlation[str(event.correlation_id)] = span
    token = _handled.set((by_event, by_correlation))
    try:
        yield
    except BaseException as exc:
        for span in by_event.values():
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        _handled.reset(token)
        for span in by_event.values():
            span.end()


async def remember(conn: Any, handled: Sequence[tuple[Any, Any]]) -> None:
    """Store, per record key, the consumer span of the latest event handled (in the batch's transaction)."""
    if not _enabled or (spans := _handled.get()) is None:
        return
    latest: dict[str, str] = {}
    for source, event in handled:
        span = spans[0].get(str(event.event_id))
        if source.key is not None and span is not None and (parent := format_traceparent(span.get_span_context())):
            latest[source.key.decode("utf-8", "replace")] = parent
    if latest:
        keys = sorted(latest)  # one lock order for every writer
        await conn.execute(
            "INSERT INTO trace_context (key, traceparent) SELECT * FROM unnest($1::text[], $2::text[]) "
            "ON CONFLICT (key) DO UPDATE SET traceparent = EXCLUDED.traceparent, updated_at = now()",
            keys, [latest[k] for k in keys])


async def remembered(conn: Any, keys: Sequence[str]) -> dict[str, str]:
    """The stored trace context of each of these record keys that has one."""
    if not _enabled or not keys:
        return {}
    rows = await conn.fetch("SELECT key, traceparent FROM trace_context WHERE key = ANY($1::text[])", list(keys))
    return {r["key"]: r["traceparent"] for r in rows}


def mark_failed(event_id: UUID | str, code: str) -> None:
    """The event was dead-lettered: its span says so (the code only, never the exception text)."""
    if not _enabled or (handled := _handled.get()) is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span = handled[0].get(str(event_id))
    if span is not None:
        span.set_status(Status(StatusCode.ERROR, code))


@contextmanager
def handling(event_id: UUID | str) -> Iterator[None]:
    """Make the event's consumer span current while its own handler runs."""
    if not _enabled or (handled := _handled.get()) is None or (span := handled[0].get(str(event_id))) is None:
        yield
        return
    from opentelemetry import trace

    with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
        yield


def traceparent_for(causation_id: UUID | None, correlation_id: UUID | None) -> str | None:
    """The context an outgoing event continues: the span of the event that caused it (batch handlers),
    else of an event of its flow in this transaction, else the current span; None without any."""
    if not _enabled:
        return None
    handled = _handled.get()
    if handled is not None:
        span = handled[0].get(str(causation_id)) if causation_id is not None else None
        if span is None and correlation_id is not None:
            span = handled[1].get(str(correlation_id))
        if span is not None:
            return format_traceparent(span.get_span_context())
    return _current()


def _current() -> str | None:
    from opentelemetry import trace

    return format_traceparent(trace.get_current_span().get_span_context())


def current_traceparent() -> str | None:
    return _current() if _enabled else None


def root_traceparent(name: str) -> str | None:
    """For writes outside any consumed event (an import command, a scheduled job): the current span's
    context, or a new trace started here (one short span)."""
    if not _enabled:
        return None
    current = _current()
    if current is not None:
        return current
    span = _tracer().start_span(name)
    span.end()
    return format_traceparent(span.get_span_context())


# --- publishing ----------------------------------------------------------------------------------------

Message = tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]


def publishing(messages: list[Message]) -> tuple[list[Message], list[Span]]:
    """A producer span per message carrying a `traceparent` (child of it); the message then carries the
    producer span's. End the spans with `end_spans` once the broker acked."""
    if not _enabled:
        return messages, []
    from opentelemetry.trace import SpanKind

    tracer = _tracer()
    out: list[Message] = []
    spans: list[Span] = []
    for topic, key, value, headers in messages:
        parent = _header(headers)
        if parent is None:
            out.append((topic, key, value, headers))
            continue
        event_type = next((v.decode("ascii", "replace") for k, v in headers if k == "event-type"), "")
        span = tracer.start_span(f"{topic} publish", context=_parse(parent), kind=SpanKind.PRODUCER,
                                 attributes={"messaging.system": "kafka", "messaging.operation.type": "send",
                                             "messaging.destination.name": topic, "aplypro.event_type": event_type})
        spans.append(span)
        own = format_traceparent(span.get_span_context()) or parent
        out.append((topic, key, value, [(k, own.encode() if k == TRACEPARENT else v) for k, v in headers]))
    return out, spans


def end_spans(spans: Sequence[Span], error: str | None = None) -> None:
    if not spans:
        return
    from opentelemetry.trace import Status, StatusCode

    for span in spans:
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end()
