"""G5 (asp-exchange.md §9.2): every record uploaded gets an answer, every integrated one a payment, or it is
reported.

Runs before each build (the service's loop and `send`), whatever the hour. A `sent` request whose upload is
older than `answer_days` working days is flagged once (`answer_overdue_at`: `status`, the gauge
`aplypro_asp_answers_overdue`, the log code `asp_answer_overdue`); the pending requests of its student are
checked again and, if they wait for it (`awaiting_asp_integration`), show `awaiting_asp_answer_overdue`.

Nothing is sent again: the ASP may hold the record (G1: a request is uploaded in at most one file, a resend
is an operator's act), and a later PFMP of the student sent as a creation could create the individual or the
dossier twice. So they keep waiting, visibly, until the answer comes (it wakes them as usual) or an operator
settles the file with the ASP. An `integrated` request with no payment line after `payment_days` is flagged
the same way (`payment_overdue_at`, log code `asp_payment_overdue`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters import send_repo
from aplypro_asp_gateway.domain.schedule import working_days_before

log = structlog.get_logger(__name__)


async def watch_answers(conn: Connection, now: datetime, *, answer_days: int, payment_days: int,
                        skip_public_holidays: bool = False) -> tuple[int, int]:
    """Flag what became overdue since the last run; returns (answers, payments) newly overdue."""
    async with conn.transaction():
        since = working_days_before(now, answer_days, skip_public_holidays=skip_public_holidays)
        answers = await send_repo.flag_answers_overdue(conn, since, now)
        payments = await send_repo.flag_payments_overdue(conn, now - timedelta(days=payment_days), now)
    if answers:
        # Ids and file names only: what an operator needs to ask the ASP about the file.
        log.warning("asp_answer_overdue", code="asp_answer_overdue", requests=len(answers),
                    files=sorted({r["file_name"] for r in answers}), working_days=answer_days)
    if payments:
        log.warning("asp_payment_overdue", code="asp_payment_overdue", requests=payments, days=payment_days)
    return len(answers), payments
