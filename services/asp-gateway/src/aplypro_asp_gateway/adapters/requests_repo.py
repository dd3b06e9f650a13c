"""SQL of the build: pending requests with their data, blocking reasons, files and the sent state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from aplypro_servicekit.db import Connection, json_rows

from aplypro_asp_gateway.adapters import merges_repo
from aplypro_asp_gateway.domain.asp_errors import BANK_REJECTIONS
from aplypro_asp_gateway.domain.model import (
    AspIds,
    Blocked,
    KnownIds,
    PaymentRecord,
    PendingRequest,
    Rib,
    Schooling,
    Student,
)

_PARIS = ZoneInfo("Europe/Paris")  # the day a request was made, as a French calendar day
# Ids read per statement: one plan gone wrong (statistics behind a table that just grew) costs one chunk's time,
# not a whole file's: 7,000 ids in one statement ran for minutes in the 20,000-student drill.
READ_CHUNK = 1000
# The tables the build reads: their statistics are refreshed before the build when they changed a lot since
# their last analyze (service_layer/build.py).
BUILD_TABLES = ("payment_requests", "students", "schoolings", "ribs", "schooling_caps", "attributive_decisions",
                "file_records", "student_ine_status", "withdrawn_schoolings", "hidden_schoolings",
                "printed_pfmp_numbers", "kept_asp_individuals", "merged_students", "asp_files")
_JOINS = """
FROM payment_requests pr
LEFT JOIN students st ON st.student_id = pr.student_id
LEFT JOIN schoolings sc ON sc.schooling_id = pr.schooling_id
LEFT JOIN ribs r ON r.student_id = pr.student_id AND r.uai = sc.uai AND NOT r.archived
LEFT JOIN schooling_caps cap ON cap.schooling_id = pr.schooling_id
LEFT JOIN attributive_decisions da ON da.schooling_id = pr.schooling_id
"""
_COMPLETE = ("st.student_id IS NOT NULL AND sc.schooling_id IS NOT NULL AND r.rib_id IS NOT NULL "
             "AND da.schooling_id IS NOT NULL")
_LOCK = "SELECT pr.payment_request_id" + _JOINS + """WHERE pr.state = 'pending' AND pr.recheck AND {where}
ORDER BY pr.record_id LIMIT $1
FOR UPDATE OF pr SKIP LOCKED
"""
# What the ASP returned for the request's PFMP (domain/rectification.py). The ids: from the latest request an
# integration line answered. The total the ASP holds as paid, from the latest paid request (requests of a PFMP
# follow each other: record ids grow): a first payment's MTNET; a modification's new total, whatever MTNET
# says (the ASP pays or recovers the difference to reach it; whether MTNET is the complement or the total is
# unconfirmed, §11.6).
_ASP_SIDE = """
LEFT JOIN LATERAL (SELECT p.asp_individual_id, p.asp_dossier_id, p.asp_prestation_id FROM payment_requests p
                   WHERE p.pfmp_id = pr.pfmp_id AND p.asp_prestation_id IS NOT NULL
                   ORDER BY p.record_id DESC LIMIT 1) ids ON true
LEFT JOIN LATERAL (SELECT CASE WHEN COALESCE(f.first_payment, true) THEN p.paid_cents ELSE p.amount_cents END
                          AS total
                   FROM payment_requests p LEFT JOIN file_records f USING (payment_request_id)
                   WHERE p.pfmp_id = pr.pfmp_id AND p.state = 'paid'
                   ORDER BY p.record_id DESC LIMIT 1) paid ON true
"""
_BANK_REJECTIONS = "ARRAY[" + ", ".join(f"'{key}'" for key in sorted(BANK_REJECTIONS)) + "]::text[]"
# The read joins each request to its rows by one index probe a table (LIMIT 1 on a unique key keeps the join
# lateral), and asks each EXISTS by a probe too (a scalar subquery with LIMIT is never hashed). With plain joins
# and EXISTS, the planner hashed whole tables for every 1,000 ids: at 100,000 students each statement read every
# student, schooling, RIB, DA, cap and file record, 270–370 ms for 1,000 requests against 60–70 ms by probes, and
# its cost grew with the tables, not with the ids.
_READ_JOINS = """
FROM payment_requests pr
LEFT JOIN LATERAL (SELECT * FROM students x WHERE x.student_id = pr.student_id LIMIT 1) st ON true
LEFT JOIN LATERAL (SELECT * FROM schoolings x WHERE x.schooling_id = pr.schooling_id LIMIT 1) sc ON true
LEFT JOIN LATERAL (SELECT * FROM ribs x WHERE x.student_id = pr.student_id AND x.uai = sc.uai AND NOT x.archived
                   LIMIT 1) r ON true
LEFT JOIN LATERAL (SELECT * FROM schooling_caps x WHERE x.schooling_id = pr.schooling_id LIMIT 1) cap ON true
LEFT JOIN LATERAL (SELECT * FROM attributive_decisions x WHERE x.schooling_id = pr.schooling_id LIMIT 1) da ON true
"""


_READ = """
SELECT pr.payment_request_id, pr.record_id, pr.pfmp_id, pr.schooling_id, pr.student_id, pr.amount_cents,
       pr.pfmp_rank, st.student_id IS NOT NULL AS has_student, st.last_name, st.first_names, st.birth_date,
       st.sex, st.birth_city_insee, st.birth_country_insee, st.address_postal_code, st.address_city_insee,
       st.address_country_insee, st.address_lines, st.address_city_name,
       sc.schooling_id IS NOT NULL AS has_schooling, sc.uai, sc.contract_type_code,
       sc.establishment_city_insee, sc.establishment_postal_code,
       sc.mef_ministry, sc.school_year, sc.status, cap.yearly_cap_cents, r.rib_id, r.owner_type,
       r.holder_name, r.iban, r.bic, pr.rectification, pr.pfmp_start_date, pr.requested_at,
       coalesce((SELECT true FROM file_records fr WHERE fr.pfmp_id = pr.pfmp_id AND fr.first_payment
                 AND NOT fr.rejected LIMIT 1), false) AS first_payment_sent,
       coalesce((SELECT true FROM student_ine_status i WHERE i.student_id = pr.student_id AND i.not_found
                 LIMIT 1), false) AS ine_not_found,
       coalesce((SELECT true FROM withdrawn_schoolings w WHERE w.schooling_id = pr.schooling_id LIMIT 1), false)
           AS decision_withdrawn,
       coalesce((SELECT true FROM hidden_schoolings h WHERE h.schooling_id = pr.schooling_id AND h.hidden
                 LIMIT 1), false) AS schooling_hidden,
       ids.asp_individual_id, ids.asp_dossier_id, ids.asp_prestation_id, paid.total AS asp_paid_cents,
       coalesce((SELECT true FROM payment_requests p WHERE p.pfmp_id = pr.pfmp_id
                 AND p.payment_request_id <> pr.payment_request_id AND p.state IN ('ready', 'sent', 'integrated')
                 LIMIT 1), false) AS pfmp_in_flight, da.number AS da_number,
       coalesce((SELECT true FROM payment_requests p WHERE p.pfmp_id = pr.pfmp_id AND p.state = 'unpaid'
                 LIMIT 1), false)
       AND NOT coalesce((SELECT true FROM payment_requests p WHERE p.pfmp_id = pr.pfmp_id AND p.state = 'paid'
                         LIMIT 1), false) AS pfmp_unpaid,
       (SELECT fr.pfmp_number FROM file_records fr WHERE fr.pfmp_id = pr.pfmp_id AND fr.pfmp_number IS NOT NULL
        ORDER BY fr.record_id LIMIT 1) AS pfmp_number_sent,
       (SELECT pn.number FROM printed_pfmp_numbers pn WHERE pn.pfmp_id = pr.pfmp_id) AS pfmp_number_printed,
       coalesce((SELECT p.state = 'rejected' AND p.rib_id = r.rib_id AND p.return_reasons && """ + _BANK_REJECTIONS + """
                 FROM payment_requests p WHERE p.pfmp_id = pr.pfmp_id
                 AND p.state IN ('rejected', 'integrated', 'paid', 'unpaid')
                 ORDER BY p.record_id DESC LIMIT 1), false) AS rib_rejected""" + _READ_JOINS + _ASP_SIDE + "WHERE pr.payment_request_id = ANY($1::uuid[])"


def _to_request(row: Any) -> PendingRequest:
    student = Student(
        last_name=row["last_name"], first_names=tuple(row["first_names"]), birth_date=row["birth_date"],
        sex=row["sex"], birth_city_insee=row["birth_city_insee"], birth_country_insee=row["birth_country_insee"],
        postal_code=row["address_postal_code"], city_insee=row["address_city_insee"],
        country_insee=row["address_country_insee"], address_lines=tuple(row["address_lines"]),
        city_name=row["address_city_name"],
    ) if row["has_student"] else None
    schooling = Schooling(
        uai=row["uai"], contract_type_code=row["contract_type_code"], mef_ministry=row["mef_ministry"],
        school_year=row["school_year"], status=row["status"], yearly_cap_cents=row["yearly_cap_cents"],
        establishment_city_insee=row["establishment_city_insee"],
        establishment_postal_code=row["establishment_postal_code"],
    ) if row["has_schooling"] else None
    rib = Rib(rib_id=row["rib_id"], owner_type=row["owner_type"], holder_name=row["holder_name"],
              iban=row["iban"], bic=row["bic"]) if row["rib_id"] is not None else None
    return PendingRequest(
        payment_request_id=row["payment_request_id"], record_id=row["record_id"], pfmp_id=row["pfmp_id"],
        schooling_id=row["schooling_id"], student_id=row["student_id"], amount_cents=row["amount_cents"],
        pfmp_rank=row["pfmp_rank"], student=student, schooling=schooling, rib=rib,
        rectification=row["rectification"], first_payment_sent=row["first_payment_sent"],
        pfmp_start_date=row["pfmp_start_date"], requested_on=row["requested_at"].astimezone(_PARIS).date(),
        ine_not_found=row["ine_not_found"], decision_withdrawn=row["decision_withdrawn"],
        schooling_hidden=row["schooling_hidden"],
        asp_ids=_asp_ids(row), asp_paid_cents=row["asp_paid_cents"], pfmp_in_flight=row["pfmp_in_flight"],
        da_number=row["da_number"], pfmp_number_sent=row["pfmp_number_sent"], pfmp_unpaid=row["pfmp_unpaid"],
        pfmp_number_printed=row["pfmp_number_printed"], rib_rejected=row["rib_rejected"],
    )


def _asp_ids(row: Any) -> AspIds | None:
    if row["asp_prestation_id"] is None:
        return None
    return AspIds(individu=row["asp_individual_id"], dossier=row["asp_dossier_id"],
                  prestation=row["asp_prestation_id"])


async def _lock(conn: Connection, where: str, limit: int) -> list[UUID]:
    return [r["payment_request_id"] for r in await conn.fetch(_LOCK.format(where=where), limit)]


def _has_data(request: PendingRequest) -> bool:
    return (request.student is not None and request.schooling is not None and request.rib is not None
            and request.da_number is not None)


async def pending_requests(conn: Connection, *, limit: int) -> list[PendingRequest]:
    """Pending requests to check, locked (SKIP LOCKED: a concurrent builder takes others): first up to `limit`
    whose projection holds the student's identity, the schooling, its DA and an active RIB for its establishment,
    oldest first, then up to `limit` others, so they get their blocking reasons.

    Lock first, read after, in two statements: a statement's snapshot is taken before it locks. Read in
    the locking statement, a request whose data a consumer committed in between is locked (its newest row,
    flagged for a check) with data from before the commit: blocked with `recheck = false`, it would wait
    forever for a change that already happened (a lost wake-up). Read in a later snapshot, taken once the
    locks are held, a request shows every change committed before; a consumer committing later has to flag
    the locked request, so it waits for the build's commit and its flag lands after it.
    """
    complete = await _lock(conn, _COMPLETE, limit)
    taken = set(complete)
    others = [i for i in await _lock(conn, f"NOT ({_COMPLETE})", limit) if i not in taken]
    by_id = {r.payment_request_id: r for r in await read_requests(conn, complete + others)}
    return within_limit([by_id[i] for i in complete + others if i in by_id], limit)


async def read_requests(conn: Connection, ids: Sequence[UUID]) -> list[PendingRequest]:
    """These requests with whatever the projection holds for them (the address-correction file reads a PFMP's
    latest request this way, whatever its state); not locked. Read `READ_CHUNK` ids a statement."""
    ids = list(ids)
    requests: list[PendingRequest] = []
    for start in range(0, len(ids), READ_CHUNK):
        requests.extend(_to_request(r) for r in await conn.fetch(_READ, ids[start:start + READ_CHUNK]))
    return requests


def within_limit(requests: Sequence[PendingRequest], limit: int) -> list[PendingRequest]:
    """At most `limit` requests with complete data (a file's cap), in order. Only a request locked as one
    without data can be left out: its data arrived after the locks; it stays flagged for the next build."""
    kept: list[PendingRequest] = []
    ready = 0
    for request in requests:
        if _has_data(request):
            if ready == limit:
                continue
            ready += 1
        kept.append(request)
    return kept


# One row version per blocked request (two statements took 3 s for 7,000): its reasons, and `recheck` cleared
# unless it is to be checked again at the next build; written only when one of them changes. `changed`: the
# reasons did (the event version moved on).
_RECORD_BLOCKED = """
WITH d AS (SELECT (r->>0)::uuid AS id, ARRAY(SELECT jsonb_array_elements_text(r->1)) AS reasons,
                  (r->>2)::boolean AS recheck
           FROM jsonb_array_elements($1::jsonb) AS r),
     old AS (SELECT pr.payment_request_id, pr.blocking_reasons, pr.recheck FROM payment_requests pr
             JOIN d ON d.id = pr.payment_request_id)
UPDATE payment_requests pr SET blocking_reasons = d.reasons, recheck = old.recheck AND d.recheck,
       event_version = pr.event_version + CASE WHEN old.blocking_reasons IS DISTINCT FROM d.reasons THEN 1 ELSE 0 END
FROM d JOIN old ON old.payment_request_id = d.id
WHERE pr.payment_request_id = d.id
  AND (old.blocking_reasons IS DISTINCT FROM d.reasons OR (old.recheck AND NOT d.recheck))
RETURNING pr.payment_request_id, pr.pfmp_id, pr.student_id, pr.blocking_reasons, pr.event_version,
          pr.correlation_id, pr.requested_event_id, old.blocking_reasons IS DISTINCT FROM d.reasons AS changed
"""


async def record_blocked(conn: Connection, blocked: Sequence[Blocked]) -> list[Any]:
    """Blocked requests stay pending with their reasons, and wait for a data change to be checked again.
    Returns the rows whose reasons changed (their event version moved on): each gets a PaymentRequestHeld (a build groups them:
    service_layer/moves.py)."""
    if not blocked:
        return []
    rows = await conn.fetch(_RECORD_BLOCKED, json_rows(
        (b.payment_request_id, list(b.reasons), b.recheck) for b in blocked))
    return [r for r in rows if r["changed"]]


async def sync_funding(conn: Connection, off: frozenset[str]) -> int:
    """Record the switched-off programmes; when they differ from the last build's, flag every pending request
    for a new check (parked ones are released, newly switched-off ones parked). Returns the requests flagged.

    Called inside the build's transaction, under its advisory lock: two builders never race on the row.
    """
    held = await conn.fetchval("SELECT off_bops FROM funding_switch")
    if held is not None and set(held) == off:
        return 0
    await conn.execute("INSERT INTO funding_switch (off_bops) VALUES ($1) ON CONFLICT (singleton) "
                       "DO UPDATE SET off_bops = EXCLUDED.off_bops", sorted(off))
    if held is None and not off:
        return 0  # first build ever, nothing switched off: nothing was parked
    flagged = await conn.fetchval("WITH f AS (UPDATE payment_requests SET recheck = true "
                                  "WHERE state = 'pending' AND NOT recheck RETURNING 1) SELECT count(*) FROM f")
    return int(flagged)


async def release_negative_rectifications(conn: Connection) -> int:
    """The §8.2 block is off: every rectification parked by it is checked again at this build (it leaves as
    soon as the block is lifted). Returns the requests flagged."""
    flagged = await conn.fetchval(
        "WITH f AS (UPDATE payment_requests SET recheck = true WHERE state = 'pending' AND NOT recheck "
        "AND 'negative_rectification' = ANY(blocking_reasons) RETURNING 1) SELECT count(*) FROM f")
    return int(flagged)


async def latest_stamp(conn: Connection) -> datetime | None:
    value: datetime | None = await conn.fetchval("SELECT max(name_stamp) FROM asp_files")
    return value


async def insert_file(conn: Connection, name: str, stamp: datetime, content: bytes, sha256: str,
                      record_count: int, kind: str = "payment") -> None:
    await conn.execute(
        "INSERT INTO asp_files (file_name, name_stamp, record_count, sha256, content, kind) "
        "VALUES ($1, $2, $3, $4, $5, $6)", name, stamp, record_count, sha256, content, kind,
    )


async def numbers_sent_first(conn: Connection, numbers: Sequence[str]) -> set[str]:
    """The PFMP numbers (PRESTADOSS/NUMADM) among these that a file ever built already sent as a first payment the
    ASP did not reject (a rejected one created nothing: the retry sends the number again)."""
    rows = await conn.fetch("SELECT pfmp_number FROM file_records WHERE first_payment AND NOT rejected "
                            "AND pfmp_number = ANY($1)", list(numbers))
    return {r["pfmp_number"] for r in rows}


async def known_ids(conn: Connection, students: Sequence[UUID]) -> KnownIds:
    """The ASP ids integration lines gave for these students and their schoolings (the latest answer wins; a
    merge survivor's individual: the one kept at the merge, merges_repo), and which of them have a request in a
    file (`ready`, `sent`) and not answered yet (§4.3: what it creates is not known yet), and of those which wait
    past the G5 timeout only (answer_overdue_at, send_repo)."""
    rows = await conn.fetch(
        "SELECT student_id, schooling_id, state, asp_individual_id, asp_dossier_id, "
        "answer_overdue_at IS NOT NULL AS overdue FROM payment_requests "
        "WHERE student_id = ANY($1::uuid[]) AND (state IN ('ready', 'sent') OR asp_individual_id IS NOT NULL) "
        "ORDER BY answered_at NULLS FIRST, record_id", list(set(students)))
    individuals: dict[UUID, str] = {}
    dossiers: dict[UUID, str] = {}
    dossier_individuals: dict[UUID, str] = {}
    for row in rows:
        if row["asp_individual_id"]:
            individuals[row["student_id"]] = row["asp_individual_id"]
        if row["asp_dossier_id"]:
            dossiers[row["schooling_id"]] = row["asp_dossier_id"]
            dossier_individuals[row["schooling_id"]] = row["asp_individual_id"]
    # A merged pair both known to the ASP: the survivor's own id, chosen at the merge (merges_repo)
    individuals.update(await merges_repo.kept_individuals(conn, students))
    in_flight = [r for r in rows if r["state"] in ("ready", "sent")]
    waiting = [r for r in in_flight if not (r["state"] == "sent" and r["overdue"])]
    students_in_flight = frozenset(r["student_id"] for r in in_flight)
    schoolings_in_flight = frozenset(r["schooling_id"] for r in in_flight)
    return KnownIds(individuals, dossiers, students_in_flight, schoolings_in_flight,
                    students_in_flight - {r["student_id"] for r in waiting},
                    schoolings_in_flight - {r["schooling_id"] for r in waiting}, dossier_individuals)


async def insert_file_records(conn: Connection, file_name: str, records: Sequence[PaymentRecord]) -> None:
    """The file's records; a record without a prestation id is a first payment (it may carry the individual's
    and the dossier's ids, §4.3): the unique indexes refuse a second one for a PFMP or a NUMADM. A modification
    (the prestation's id, §8.1) follows its PFMP's first payment on purpose. One statement for the file (a
    row a statement took 2 s for 7,000 records)."""
    await conn.execute(
        "INSERT INTO file_records (payment_request_id, file_name, record_id, pfmp_id, pfmp_number, first_payment, "
        "variant) SELECT r.id, $1, r.record_id, r.pfmp_id, r.pfmp_number, r.first_payment, r.variant "
        "FROM unnest($2::uuid[], $3::bigint[], $4::uuid[], $5::text[], $6::boolean[], $7::text[]) "
        "AS r(id, record_id, pfmp_id, pfmp_number, first_payment, variant)",
        file_name, [r.payment_request_id for r in records], [r.record_id for r in records],
        [r.pfmp_id for r in records], [r.pfmp_number for r in records], [r.first_payment for r in records],
        [r.variant for r in records],
    )


_HANDOVER_LOCK = "hashtext('asp-handover:' || current_schema())"


async def try_lock_handover(conn: Connection) -> bool:
    return bool(await conn.fetchval(f"SELECT pg_try_advisory_lock({_HANDOVER_LOCK})"))


async def unlock_handover(conn: Connection) -> None:
    await conn.execute(f"SELECT pg_advisory_unlock({_HANDOVER_LOCK})")


@dataclass(frozen=True)
class FileToWrite:
    name: str
    content: bytes
    sha256: str
    staged: bool  # the temporary copy was durable before the rename: the file may already be handed over


async def files_to_write(conn: Connection, kind: str | None = None) -> list[FileToWrite]:
    """Files built and not written yet, oldest first; only those of `kind` when given."""
    rows = await conn.fetch("SELECT file_name, content, sha256, staged_at IS NOT NULL AS staged FROM asp_files "
                            "WHERE written_at IS NULL AND ($1::text IS NULL OR kind = $1) ORDER BY name_stamp", kind)
    return [FileToWrite(r["file_name"], r["content"], r["sha256"], r["staged"]) for r in rows]


async def mark_staged(conn: Connection, name: str) -> None:
    await conn.execute("UPDATE asp_files SET staged_at = now() WHERE file_name = $1", name)


async def status(conn: Connection) -> dict[str, Any]:
    """Counts only: never a name, an IBAN or a birth date."""
    states = {r["state"]: int(r["n"]) for r in await conn.fetch(
        "SELECT state, count(*) AS n FROM payment_requests GROUP BY state")}
    blocked = {r["reason"]: int(r["n"]) for r in await conn.fetch(
        "SELECT reason, count(*) AS n FROM payment_requests, unnest(blocking_reasons) AS reason "
        "WHERE state = 'pending' GROUP BY reason ORDER BY reason")}
    files = await conn.fetchrow(
        "SELECT count(*) AS n, count(*) FILTER (WHERE written_at IS NULL) AS unwritten, "
        "count(*) FILTER (WHERE handover_unconfirmed) AS unconfirmed FROM asp_files")
    after_withdrawal = await conn.fetchval("SELECT count(*) FROM payment_requests WHERE state IN ('ready', 'sent') "
                                           "AND 'sent_after_withdrawal' = ANY(blocking_reasons)")
    return {"pending": states.get("pending", 0), "blocked": blocked, "sent": states.get("sent", 0),
            "sent_after_withdrawal": int(after_withdrawal),
            "files": int(files["n"]) if files else 0, "files_not_written": int(files["unwritten"]) if files else 0,
            "files_handover_unconfirmed": int(files["unconfirmed"]) if files else 0}
