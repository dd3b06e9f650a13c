"""SQL of the projection a batch at a time (service_layer/projection_batch.py): the rows a run of events touches read
locked in one statement a table, the changed ones written back (held rows updated, new rows inserted), the
payment requests inserted, the re-check flags set and the stale counters added, one statement each.

Identities and bank details are personal data: read here only as versions and dates, written, never logged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from aplypro_servicekit.db import Connection, json_rows

from aplypro_asp_gateway.domain.errors import PfmpAlreadyPending

Row = dict[str, Any]


@dataclass(frozen=True)
class Table:
    """A projection table as the per-event upserts write it: their columns, the key, what an update sets."""

    name: str
    keys: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (name, PostgreSQL type), in the upsert's order
    kept: tuple[str, ...] = ()  # written on insert only (as the upsert's DO UPDATE leaves them)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


STUDENTS = Table("students", ("student_id",), (
    ("student_id", "uuid"), ("last_name", "text"), ("first_names", "text[]"), ("birth_date", "date"),
    ("sex", "text"), ("birth_city_insee", "text"), ("birth_country_insee", "text"), ("address_postal_code", "text"),
    ("address_city_insee", "text"), ("address_country_insee", "text"), ("as_of", "timestamptz"),
    ("address_lines", "text[]"), ("address_city_name", "text"), ("identity_version", "int")))
SCHOOLINGS = Table("schoolings", ("schooling_id",), (
    ("schooling_id", "uuid"), ("student_id", "uuid"), ("uai", "text"), ("contract_type_code", "text"),
    ("mef_code", "text"), ("mef_ministry", "text"), ("school_year", "int"), ("status", "text"),
    ("start_date", "date"), ("end_date", "date"), ("as_of", "timestamptz"), ("version", "int"),
    ("establishment_city_insee", "text"), ("establishment_postal_code", "text")))
CAPS = Table("schooling_caps", ("schooling_id",), (
    ("schooling_id", "uuid"), ("yearly_cap_cents", "bigint"), ("as_of", "timestamptz")))
RIBS = Table("ribs", ("student_id", "uai"), (
    ("student_id", "uuid"), ("uai", "text"), ("rib_id", "uuid"), ("owner_type", "text"), ("holder_name", "text"),
    ("iban", "text"), ("bic", "text"), ("as_of", "timestamptz"), ("version", "int"), ("archived", "boolean")))
DECISIONS = Table("attributive_decisions", ("schooling_id",), (
    ("schooling_id", "uuid"), ("student_id", "uuid"), ("number", "text"), ("version", "int"),
    ("issued_at", "timestamptz")), kept=("student_id",))
PRINTED = Table("printed_pfmp_numbers", ("pfmp_id",), (
    ("pfmp_id", "uuid"), ("schooling_id", "uuid"), ("number", "text"), ("document_version", "int"),
    ("received_at", "timestamptz")))
REQUESTS = Table("payment_requests", ("payment_request_id",), (
    ("payment_request_id", "uuid"), ("pfmp_id", "uuid"), ("schooling_id", "uuid"), ("student_id", "uuid"),
    ("amount_cents", "bigint"), ("day_count", "int"), ("pfmp_rank", "int"), ("requested_event_id", "uuid"),
    ("correlation_id", "uuid"), ("requested_at", "timestamptz"), ("version", "int"), ("rectification", "boolean"),
    ("pfmp_start_date", "date")))


class InsertedMeanwhile(asyncpg.SerializationError):
    """A row the batch read as absent was inserted by another transaction before the batch wrote it: the batch is
    tried again (a transient error), and then reads that row locked. Overwriting it could put an older state over
    a newer one; leaving it could drop the batch's newer one."""


def _select(table: Table, alias: str = "r") -> str:
    """The table's columns out of `jsonb_array_elements(…) AS r`, each row a JSON array in column order."""
    return ", ".join(f"ARRAY(SELECT jsonb_array_elements_text({alias}->{i}))::{t}" if t.endswith("[]")
                     else f"({alias}->>{i})::{t}" for i, (_, t) in enumerate(table.columns))


def _json(table: Table, rows: Sequence[Row]) -> str:
    return json_rows([row[name] for name in table.names] for row in rows)


async def held(conn: Connection, table: Table, read: Sequence[str], keys: Sequence[Any]) -> list[Row]:
    """The `read` columns of the rows with these first-key values, locked in key order (two batches never wait for
    each other in a cycle). For RIBs: all the students' rows (an index scan), the caller picks its keys."""
    if not keys:
        return []
    order = ", ".join(table.keys)
    rows = await conn.fetch(f"SELECT {', '.join(read)} FROM {table.name} WHERE {table.keys[0]} = ANY($1::uuid[]) "
                            f"ORDER BY {order} FOR UPDATE", sorted(set(keys)))
    return [dict(r) for r in rows]


async def sent_numbers(conn: Connection, pfmp_ids: Sequence[UUID]) -> list[tuple[UUID, str]]:
    """The PFMP numbers files already carried for these PFMPs (the ASP may hold the prestations under them)."""
    if not pfmp_ids:
        return []
    rows = await conn.fetch("SELECT DISTINCT pfmp_id, pfmp_number FROM file_records WHERE pfmp_id = ANY($1::uuid[]) "
                            "AND pfmp_number IS NOT NULL", sorted(set(pfmp_ids)))
    return [(r["pfmp_id"], r["pfmp_number"]) for r in rows]


async def write(conn: Connection, table: Table, rows: Sequence[Row], read: set[Any]) -> None:
    """The rows as the fold leaves them: those read locked (`read`, by key) updated, the others inserted, each
    of which must still be absent (`InsertedMeanwhile`)."""
    def key(row: Row) -> Any:
        return row[table.keys[0]] if len(table.keys) == 1 else tuple(row[k] for k in table.keys)

    held_rows = [r for r in rows if key(r) in read]
    new_rows = [r for r in rows if key(r) not in read]
    names = table.names
    if held_rows:
        sets = ", ".join(f"{c} = u.{c}" for c in names if c not in table.keys and c not in table.kept)
        match = " AND ".join(f"t.{k} = u.{k}" for k in table.keys)
        await conn.execute(f"UPDATE {table.name} t SET {sets} FROM (SELECT {_select(table)} "
                           f"FROM jsonb_array_elements($1::jsonb) AS r) AS u({', '.join(names)}) WHERE {match}",
                           _json(table, held_rows))
    if new_rows:
        inserted = await conn.fetch(
            f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {_select(table)} "
            f"FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT ({', '.join(table.keys)}) DO NOTHING RETURNING 1",
            _json(table, new_rows))
        if len(inserted) != len(new_rows):
            raise InsertedMeanwhile(f"a {table.name} row was inserted by another transaction; batch retried")


async def insert_requests(conn: Connection, rows: Sequence[Row]) -> set[UUID]:
    """insert_request for many, in the given order (the record ids follow it, as one insertion after another would
    draw them; a copy of an id held, or earlier in the list, draws one too): returns the ids inserted. A second
    pending request of a PFMP fails the batch (`PfmpAlreadyPending`), which the consumer replays event by event."""
    if not rows:
        return set()
    try:
        inserted = await conn.fetch(
            f"INSERT INTO payment_requests ({', '.join(REQUESTS.names)}) SELECT {_select(REQUESTS, 'e.r')} "
            "FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(r, n) ORDER BY e.n "
            "ON CONFLICT (payment_request_id) DO NOTHING RETURNING payment_request_id",
            _json(REQUESTS, rows))
    except asyncpg.UniqueViolationError:
        raise PfmpAlreadyPending("the PFMP already has a pending payment request") from None
    return {r["payment_request_id"] for r in inserted}


async def count_stale(conn: Connection, dropped: Counter[str]) -> None:
    """projection_repo.count_stale for many event types at once, in key order."""
    if dropped:
        types = sorted(dropped)
        await conn.execute("INSERT INTO stale_events SELECT * FROM unnest($1::text[], $2::bigint[]) "
                           "ON CONFLICT (event_type) DO UPDATE SET dropped = stale_events.dropped + EXCLUDED.dropped",
                           types, [dropped[t] for t in types])
