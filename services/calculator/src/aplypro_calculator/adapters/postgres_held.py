"""SQL of the gateway's holds: the reasons of its latest PaymentRequestHeld on each request (shown only)."""

from __future__ import annotations

from collections.abc import Sequence

from aplypro_contracts import PaymentRequestHeld
from aplypro_servicekit.db import Connection, json_rows


async def record_held(conn: Connection, events: Sequence[PaymentRequestHeld]) -> int:
    """Keeps the newest reasons of each request (by the gateway's version); returns the requests updated."""
    newest: dict[object, PaymentRequestHeld] = {}
    for event in events:
        held = newest.get(event.payment_request_id)
        if held is None or held.version < event.version:
            newest[event.payment_request_id] = event
    updated = await conn.fetchval(
        "WITH d AS (SELECT (r->>0)::uuid AS id, ARRAY(SELECT jsonb_array_elements_text(r->1)) AS reasons, "
        "(r->>2)::int AS version FROM jsonb_array_elements($1::jsonb) AS r), "
        "u AS (UPDATE payment_requests pr SET gateway_reasons = d.reasons, gateway_reasons_version = d.version "
        "FROM d WHERE pr.payment_request_id = d.id AND pr.gateway_reasons_version < d.version RETURNING 1) "
        "SELECT count(*) FROM u",
        json_rows((e.payment_request_id, list(e.reasons), e.version) for e in newest.values()))
    return int(updated)
