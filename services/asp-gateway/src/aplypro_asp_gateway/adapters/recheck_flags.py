"""Flagging students' pending requests for a new check at the next build (service_layer/build.py).

Every pending request of the students is locked as an UPDATE would lock it (FOR NO KEY UPDATE), flagged or not:
a build running now skips it (its SKIP LOCKED) until the caller commits, and a build holding it makes the caller
wait for its commit, so the flag always lands after a check that did not see the caller's data (no lost
wake-up: requests_repo.pending_requests). Only the rows not flagged yet are written: rewriting a flagged one
changed nothing but cost a row version and its WAL, and, the table's pages being full, a new entry in each of its
14 indexes (138 of the 239,265 updates of the table were HOT in a 20,000-student national run).

Under READ COMMITTED, a row the caller waited for is read again once the build commits: its new flag (cleared
by the check) decides whether it is written, and one the build moved out of `pending` is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from aplypro_servicekit.db import Connection

_FLAG = """
WITH held AS (SELECT payment_request_id, recheck FROM payment_requests
              WHERE student_id = ANY($1::uuid[]) AND state = 'pending' FOR NO KEY UPDATE)
UPDATE payment_requests pr SET recheck = true FROM held
WHERE pr.payment_request_id = held.payment_request_id AND NOT held.recheck
"""


async def flag_pending(conn: Connection, student_ids: Iterable[UUID]) -> None:
    """The students' pending requests flagged for the next build, each locked until the caller commits."""
    students = sorted(set(student_ids))
    if students:
        await conn.execute(_FLAG, students)
