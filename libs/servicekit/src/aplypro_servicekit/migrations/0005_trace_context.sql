-- Tracing on (tracing.py): the trace context of the latest event handled per record key (an internal id,
-- a student's), so work that waits in a table and writes later (a document issued, a payment file built,
-- a request evaluated at midnight) continues the trace of what led to it. One row per key, updated in
-- place by the consumer; nothing is written while tracing is off.
CREATE TABLE trace_context (
    key         text PRIMARY KEY,
    traceparent text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
