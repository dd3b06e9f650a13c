"""Rectifications in the drill, as a school makes them: once a PFMP is paid, staff correct its day count
with `aplypro-pfmp edit` (lifecycles.md §1: an edit of a paid PFMP is a rectification, PfmpRectified),
and the ASP must then pay the difference once, never a second first payment.

The driver waits until pfmp sees each chosen PFMP's latest request `paid`, then edits it; an edit refused
because a request is with the ASP again (`pfmp_payment_ongoing`) is retried at the next round.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import asyncpg

from .load import Load

Say = Callable[[str], None]

# A PFMP's state as pfmp knows it: its latest request (the one the edit guard reads, lifecycle_sql.py).
_PAID = """
SELECT f.pfmp_id, s.ine, f.start_date, f.end_date, f.day_count, (
    SELECT coalesce(r.asp_state, r.calc_state) FROM {p}pfmp.payment_requests r WHERE r.pfmp_id = f.pfmp_id
    ORDER BY coalesce(r.requested_at, r.first_seen) DESC, r.payment_request_id LIMIT 1) AS latest
FROM {p}pfmp.pfmps f JOIN {p}pfmp.students s USING (student_id) WHERE NOT f.deleted
"""


async def _chosen(database_url: str, prefix: str, load: Load) -> list[tuple[UUID, int, int, str | None]]:
    """(pfmp id, day count now, day count wanted, latest request state) of every PFMP to rectify."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(_PAID.format(p=prefix))
    finally:
        await conn.close()
    out = []
    for r in rows:
        wanted = load.rectifications.get((r["ine"], r["start_date"], r["end_date"]))
        if wanted is not None:
            out.append((r["pfmp_id"], r["day_count"], wanted, r["latest"]))
    return out


def paid_or_rectified(database_url: str, prefix: str, load: Load) -> int:
    """How many chosen PFMPs are paid or already carry their new day count (the wait's progress)."""
    return sum(1 for _, now, wanted, latest in asyncio.run(_chosen(database_url, prefix, load))
               if latest == "paid" or now == wanted)


def rectify_paid(env: dict[str, str], prefix: str, load: Load, say: Say) -> int:
    """Edit every chosen PFMP that is paid and not yet rectified; returns how many are still to do."""
    script = Path(sys.executable).parent / "aplypro-pfmp"
    left = 0
    for pfmp_id, now, wanted, latest in asyncio.run(_chosen(env["DATABASE_URL"], prefix, load)):
        if now == wanted:
            continue
        if latest != "paid":
            left += 1
            continue
        result = subprocess.run([str(script), "edit", str(pfmp_id), "--days", str(wanted), "--user", "drill-staff"],
                                env=env, capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0:  # a request on its way again, a killed database connection: next round
            left += 1
            say(f"  rectification of {pfmp_id} refused for now: {result.stderr.strip().splitlines()[-1:]}")
    return left
