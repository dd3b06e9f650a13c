"""Recording an upload: the file marked in the drop folder, its requests `ready → sent`, one PaymentRequestSent
each in the outbox (grouped: service_layer/moves.py), all in one transaction (asp-exchange.md §9.2 G2 step 3;
lifecycles.md §2 "ready → sent: its file is uploaded").

Until this commits the requests are `ready`, bound to their file: never in another batch, never `sent`. A
crash before it leaves the file unrecorded, and the next handover finds it (service_layer/handover.py). Every
outcome records the upload, `unconfirmed` too (the file left our hands by our own rename and was taken: it is
never uploaded again); an ASP answer naming it, or the G5 report after two working days without one, settles
it (service_layer/answer_watch.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from aplypro_contracts import PaymentRequestSent
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import write_outbox

from aplypro_asp_gateway.adapters import send_repo
from aplypro_asp_gateway.service_layer.moves import Grouping, move_rows

log = structlog.get_logger(__name__)

PRODUCER = "asp-gateway"


async def record_upload(conn: Connection, name: str, *, topic: str, grouping: Grouping, outcome: str,
                        destination: str | None, at: datetime | None = None) -> int:
    """Record the file as handed over with `outcome`; returns the requests moved to `sent` (0 when the upload
    was recorded already: a second record changes nothing and sends no event)."""
    async with conn.transaction():
        if not await send_repo.mark_uploaded(conn, name, at, destination=destination, outcome=outcome):
            return 0
        sent = await send_repo.mark_sent(conn, name, at)
        await write_outbox(conn, move_rows(topic, [_sent(name, row) for row in sent], grouping, file_name=name))
    log.info("payment_file_upload_recorded", file_name=name, outcome=outcome, requests=len(sent))
    return len(sent)


def _sent(name: str, row: Any) -> PaymentRequestSent:
    return PaymentRequestSent(
        producer=PRODUCER, payment_request_id=row["payment_request_id"], pfmp_id=row["pfmp_id"],
        student_id=row["student_id"], amount_cents=row["amount_cents"], file_name=name,
        correlation_id=row["correlation_id"], causation_id=row["requested_event_id"],
        version=row["event_version"],  # the gateway's own sequence of events about the request
        rib_id=row["rib_id"],  # frozen at build: the students service keeps it current until the request ends
    )
