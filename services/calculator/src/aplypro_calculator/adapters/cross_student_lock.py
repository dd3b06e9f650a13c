"""One lock for the facts keyed apart from the students they reach: the exclusions list (ExclusionChanged, keyed
by UAI) and student merges (StudentsMerged, keyed by the survivor). Each runs beside the students' own events in
another lane or instance, and READ COMMITTED lets neither transaction see the other's uncommitted rows:

- a lift could miss a PFMP whose evaluation, not committed yet, read the row it lifts: that PFMP stays blocked
  (`excluded_schooling`) for good, silently unpaid;
- a merge's re-pointing could miss a PFMP of the merged student being stored under the merged id: that PFMP
  keeps a yearly cap of its own, paid twice the cap for one person.

A batch that changes such a fact takes the lock exclusive, every other batch shared, so whichever commits second
sees the other's write. Both changes are rare: the exclusive mode seldom makes anyone wait."""

from __future__ import annotations

from aplypro_servicekit.db import Connection

# The exclusions lock's key, kept: during a rolling deploy the older instances take it for their exclusions and
# must keep meeting the newer ones on the same lock.
_KEY = "hashtext('calculator-exclusions:' || current_schema())"


async def lock(conn: Connection, *, change: bool) -> None:
    """Held to the end of the transaction: exclusive to change a fact (waits until no transaction that read one is
    open; new readers then wait for this one), shared to read them. Taken first in a transaction (a consumer's
    batch), before any row lock: taken on top of pool rows, two could each wait for the other (a deadlock:
    retried, but a wasted batch)."""
    await conn.execute(f"SELECT pg_advisory_xact_lock{'' if change else '_shared'}({_KEY})")


async def try_lock_shared(conn: Connection) -> bool:
    """The shared lock without waiting (the due-request evaluator never waits: it takes what is free)."""
    return bool(await conn.fetchval(f"SELECT pg_try_advisory_xact_lock_shared({_KEY})"))
