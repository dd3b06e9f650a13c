"""SQL of student merges (StudentsMerged, imports.md §5.8): what the gateway keeps by the merged student's id moves
to the survivor, and the ASP individual id the survivor's next records carry is chosen once, here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters.recheck_flags import flag_pending

# Every table the gateway keys by student besides ribs (one per establishment) and the student's own facts
# (identity, INE status: the survivor's stay, the merged student's are its tombstone's). Payment requests move
# whatever their state: a request already sent keeps its file record, its frozen bytes and the ASP ids it got.
_BY_STUDENT = ("schoolings", "payment_requests", "withdrawn_schoolings", "attributive_decisions",
               "hidden_schoolings")
# The individual id a student's requests hold: the one pinned by a merge, else the latest integration's (the
# order known_ids reads them in: the last one answered wins).
_INDIVIDUAL = (
    "SELECT COALESCE((SELECT asp_individual_id FROM kept_asp_individuals WHERE student_id = $1), "
    "(SELECT asp_individual_id FROM payment_requests WHERE student_id = $1 AND asp_individual_id IS NOT NULL "
    "ORDER BY answered_at DESC NULLS LAST, record_id DESC LIMIT 1))")


# The same, leaving out one request: the id the survivor held before that request's answer.
_INDIVIDUAL_BESIDES = (
    "SELECT COALESCE((SELECT asp_individual_id FROM kept_asp_individuals WHERE student_id = $1), "
    "(SELECT asp_individual_id FROM payment_requests WHERE student_id = $1 AND asp_individual_id IS NOT NULL "
    "AND payment_request_id <> $2 ORDER BY answered_at DESC NULLS LAST, record_id DESC LIMIT 1))")


@dataclass(frozen=True)
class InFlightConflict:
    """The ASP answered a creation in flight at the merge with an individual other than the survivor's."""

    survivor_id: UUID
    merged_id: UUID
    payment_request_id: UUID


@dataclass(frozen=True)
class Repointed:
    """The ASP individual ids each side held before the merge, and the one the survivor keeps."""

    survivor_individual: str | None
    merged_individual: str | None

    @property
    def kept(self) -> str | None:
        return self.survivor_individual or self.merged_individual

    @property
    def conflict(self) -> bool:
        """The ASP knows the one person as two individuals: the survivor's is kept, an operator settles the rest."""
        return None not in (self.survivor_individual, self.merged_individual) and (
            self.survivor_individual != self.merged_individual)


async def record_merge(conn: Connection, merged: UUID, survivor: UUID) -> bool:
    """False when this merged student is already held (a replay, or a second merge of a tombstone)."""
    return bool(await conn.fetchval(
        "INSERT INTO merged_students (merged_id, survivor_id) VALUES ($1, $2) ON CONFLICT (merged_id) DO NOTHING "
        "RETURNING true", merged, survivor))


async def repoint(conn: Connection, merged: UUID, survivor: UUID) -> Repointed:
    ids = Repointed(await conn.fetchval(_INDIVIDUAL, survivor), await conn.fetchval(_INDIVIDUAL, merged))
    # a moved request remembers whose it was: its ASP answer may name that student's new individual (in_flight)
    await conn.execute("UPDATE payment_requests SET merged_from = COALESCE(merged_from, $1) WHERE student_id = $1",
                       merged)
    for table in _BY_STUDENT:
        await conn.execute(f"UPDATE {table} SET student_id = $2 WHERE student_id = $1", merged, survivor)
    # The survivor's RIB at an establishment stays (the students service archived the merged one there); the
    # merged student's moves where the survivor has none, unversioned: its version counted the merged student's
    # RIBs there, and the students service re-publishes it at the survivor's next version, which must apply.
    await conn.execute("UPDATE ribs m SET student_id = $2, version = 0 WHERE m.student_id = $1 AND NOT EXISTS "
                       "(SELECT 1 FROM ribs s WHERE s.student_id = $2 AND s.uai = m.uai)", merged, survivor)
    await conn.execute("DELETE FROM ribs WHERE student_id = $1", merged)
    # an earlier merge into the merged student: its events now land on the new survivor
    await conn.execute("UPDATE merged_students SET survivor_id = $2 WHERE survivor_id = $1", merged, survivor)
    await conn.execute("DELETE FROM kept_asp_individuals WHERE student_id = $1", merged)
    if ids.kept is not None:
        await conn.execute("INSERT INTO kept_asp_individuals VALUES ($1, $2) ON CONFLICT (student_id) "
                           "DO UPDATE SET asp_individual_id = EXCLUDED.asp_individual_id", survivor, ids.kept)
    if ids.conflict:
        await conn.execute("INSERT INTO asp_individual_conflicts (survivor_id, merged_id, kept_id, other_id) "
                           "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", survivor, merged,
                           ids.survivor_individual, ids.merged_individual)
    # what moved may release (or hold back) the survivor's pending requests
    await flag_pending(conn, [survivor])
    return ids


async def settle_in_flight(conn: Connection, moved: Sequence[Any]) -> list[InFlightConflict]:
    """Integration answers just applied to requests a merge moved (`merged_from`): the individual the ASP created
    for the merged student while the merge was in flight. A survivor without an individual id takes it (pinned:
    its next records carry it); one with another keeps its own and the pair is recorded for an operator, as when
    both had one at the merge. Returns the conflicts recorded now."""
    found: list[InFlightConflict] = []
    for row in moved:
        if row["state"] != "integrated" or row["merged_from"] is None or row["asp_individual_id"] is None:
            continue
        survivor, merged, created = row["student_id"], row["merged_from"], row["asp_individual_id"]
        kept = await conn.fetchval(_INDIVIDUAL_BESIDES, survivor, row["payment_request_id"])
        if kept is None or kept == created:
            await conn.execute("INSERT INTO kept_asp_individuals VALUES ($1, $2) ON CONFLICT (student_id) "
                               "DO UPDATE SET asp_individual_id = EXCLUDED.asp_individual_id", survivor, created)
            continue
        await conn.execute("INSERT INTO kept_asp_individuals VALUES ($1, $2) ON CONFLICT (student_id) "
                           "DO NOTHING", survivor, kept)  # the survivor's own, though this answer came last
        if await conn.fetchval(
                "INSERT INTO asp_individual_conflicts (survivor_id, merged_id, kept_id, other_id) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true", survivor, merged, kept, created):
            found.append(InFlightConflict(survivor, merged, row["payment_request_id"]))
    return found


async def survivors(conn: Connection, student_ids: Iterable[UUID]) -> dict[UUID, UUID]:
    """Merged student → survivor, for those of these ids that were merged."""
    ids = list(set(student_ids))
    if not ids:
        return {}
    rows = await conn.fetch("SELECT merged_id, survivor_id FROM merged_students WHERE merged_id = ANY($1::uuid[])",
                            ids)
    return {r["merged_id"]: r["survivor_id"] for r in rows}


async def kept_individuals(conn: Connection, student_ids: Iterable[UUID]) -> dict[UUID, str]:
    rows = await conn.fetch("SELECT student_id, asp_individual_id FROM kept_asp_individuals "
                            "WHERE student_id = ANY($1::uuid[])", list(set(student_ids)))
    return {r["student_id"]: r["asp_individual_id"] for r in rows}


async def individuals_of_survivors(conn: Connection, student_ids: Iterable[UUID]) -> dict[UUID, frozenset[str]]:
    """For the survivors among these students, every ASP individual id their requests hold (theirs and the merged
    students'): an integration line giving any of them names the same person (return_match.HeldIds)."""
    rows = await conn.fetch(
        "SELECT pr.student_id, array_agg(DISTINCT pr.asp_individual_id) AS ids FROM payment_requests pr "
        "WHERE pr.student_id = ANY($1::uuid[]) AND pr.asp_individual_id IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM merged_students m WHERE m.survivor_id = pr.student_id) GROUP BY pr.student_id",
        list(set(student_ids)))
    return {r["student_id"]: frozenset(r["ids"]) for r in rows}


async def status(conn: Connection) -> dict[str, int]:
    """Counts only (the ids are in asp_individual_conflicts, for the operator)."""
    row = await conn.fetchrow("SELECT (SELECT count(*) FROM merged_students) AS merged, "
                              "(SELECT count(*) FROM asp_individual_conflicts) AS conflicts")
    return {"students_merged": int(row["merged"]) if row else 0,
            "asp_individual_conflicts": int(row["conflicts"]) if row else 0}
