"""The drill's verdict: what the files, the databases and the dead-letter topics hold, against what
the load generator knows must be there.

Each check yields a `Finding`: its name, what was counted, how many are missing ("lost") and how many
are there more than once ("duplicated"). Money is counted from the payment files themselves (every XML
file the gateway wrote), not from any service's own bookkeeping.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID
from xml.etree import ElementTree

import asyncpg
from aiokafka import AIOKafkaConsumer
from aplypro_servicekit.kafka_security import client_kwargs

from .load import READERS, Load, Period

NS = {"a": "http://www.cnasea.fr/fichier"}


@dataclass(frozen=True)
class Finding:
    name: str
    detail: str
    lost: int = 0
    duplicated: int = 0
    failed: bool = False  # a broken rule that is neither a loss nor a duplicate (the cap, the DLT)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.failed)


@dataclass(frozen=True)
class FileRecord:
    file: str
    record_id: int
    numadm: str  # the PFMP's number (PRESTADOSS/NUMADM): never sent twice as a first payment
    cents: int
    # PRESTADOSS carries the ASP's idPrestaDoss: a rectification of a PFMP paid before (asp-exchange.md §8.1),
    # whose NUMADM left as a first payment on purpose: counted apart (check_modifications), never as a payment.
    modification: bool = False


def read_payment_files(folder: Path) -> list[FileRecord]:
    """Every record (ENREGISTREMENT) of every XML file under `folder`: first payments and modifications."""
    records = []
    for path in sorted(folder.rglob("*.xml")):
        root = ElementTree.parse(path).getroot()  # noqa: S314 - our own gateway's output
        for element in root.iterfind(".//a:ENREGISTREMENT", NS):
            numadm = element.findtext(".//a:PRESTADOSS/a:NUMADM", namespaces=NS) or ""
            euros = element.findtext(".//a:MTTOTALFINANCEMENT", namespaces=NS) or "0"
            presta = element.find(".//a:PRESTADOSS", NS)
            records.append(FileRecord(path.name, int(element.get("idEnregistrement") or -1), numadm,
                                      int(Decimal(euros) * 100),
                                      modification=presta is not None and presta.get("idPrestaDoss") is not None))
    return records


def _extras(counts: Mapping[Any, int]) -> int:
    return sum(n - 1 for n in counts.values() if n > 1)


async def _periods_of_pfmps(conn: asyncpg.Connection, p: str) -> dict[UUID, Period]:
    rows = await conn.fetch(f"SELECT f.pfmp_id, s.ine, f.start_date, f.end_date FROM {p}pfmp.pfmps f "
                            f"JOIN {p}pfmp.students s USING (student_id)")
    return {r["pfmp_id"]: (r["ine"], r["start_date"], r["end_date"]) for r in rows}


def check_payments(load: Load, records: list[FileRecord], request_rows: list[asyncpg.Record],
                   periods: dict[UUID, Period]) -> list[Finding]:
    """Exactly one first-payment record per expected period, by NUMADM and by student and period
    (modification records are counted by check_modifications)."""
    records = [r for r in records if not r.modification]
    by_numadm = Counter(r.numadm for r in records)
    pfmp_of_record = {row["record_id"]: row["pfmp_id"] for row in request_rows}
    paid: Counter[Period] = Counter()
    unknown = 0
    for record in records:
        period = periods.get(pfmp_of_record.get(record.record_id))  # type: ignore[arg-type]
        if period is None:
            unknown += 1
        else:
            paid[period] += 1
    unpaid = load.periods - set(paid)
    lost = len(unpaid)
    strays = sum(n for period, n in paid.items() if period not in load.periods) + unknown
    files = len({r.file for r in records})
    return [
        Finding("payments by student and period",
                f"{len(records)} first-payment records in {files} files for {len(load.periods)} periods; "
                f"{lost} periods unpaid{_why_unpaid(unpaid, request_rows, periods)}, {_extras(paid)} paid again, "
                f"{strays} records of no known period",
                lost=lost, duplicated=_extras(paid) + strays),
        Finding("payments by NUMADM", f"{len(by_numadm)} NUMADM, {_extras(by_numadm)} sent more than once",
                duplicated=_extras(by_numadm)),
    ]


def check_modifications(load: Load, records: list[FileRecord], request_rows: list[asyncpg.Record],
                        periods: dict[UUID, Period], amounts: dict[UUID, int]) -> Finding:
    """Modification records (rectifications, §8.1): exactly one for each PFMP the load rectified, carrying the
    calculator's new total, none for any other PFMP; each modifies a PFMP whose NUMADM left before as a first
    payment (otherwise it modifies nothing the ASP holds) and is sent once."""
    modifications = [r for r in records if r.modification]
    first = {r.numadm for r in records if not r.modification}
    again = _extras(Counter(r.record_id for r in modifications))
    orphans = sum(1 for r in modifications if r.numadm not in first)
    pfmp_of_record = {row["record_id"]: row["pfmp_id"] for row in request_rows}
    by_period: dict[Period, list[FileRecord]] = {}
    strays = 0
    for record in {r.record_id: r for r in modifications}.values():
        period = periods.get(pfmp_of_record.get(record.record_id))  # type: ignore[arg-type]
        if period in load.rectifications:
            by_period.setdefault(period, []).append(record)
        else:
            strays += 1
    pfmp_of_period = {period: pfmp for pfmp, period in periods.items()}
    wrong_total = sum(1 for period, found in by_period.items()
                      if [r.cents for r in found] != [amounts.get(pfmp_of_period[period])])
    lost = len(set(load.rectifications) - set(by_period))
    twice = sum(len(found) - 1 for found in by_period.values())
    return Finding("modification records",
                   f"{len(modifications)} modification records for {len(load.rectifications)} rectified PFMPs: "
                   f"{lost} never sent, {twice} sent twice, {again} records sent more than once, {wrong_total} with "
                   f"another total than the calculator's, {strays} of a PFMP never rectified, {orphans} of a "
                   "NUMADM never sent as a first payment",
                   lost=lost, duplicated=again + twice + strays, failed=bool(orphans or wrong_total))


def _why_unpaid(unpaid: set[Period], request_rows: list[asyncpg.Record], periods: dict[UUID, Period]) -> str:
    """Where the unpaid periods stand in the gateway ("" when none is): its request state and blocking
    reasons, or no request at all, so that a failed drill says where the money stopped."""
    if not unpaid:
        return ""
    where: Counter[str] = Counter()
    seen: set[Period] = set()
    for row in request_rows:
        period = periods.get(row["pfmp_id"])
        if period in unpaid and period not in seen:
            seen.add(period)
            state, reasons = row.get("state", "?"), ",".join(row.get("blocking_reasons") or [])
            where[f"{state}[{reasons}]" if reasons else str(state)] += 1
    where["no gateway request"] += len(unpaid - seen)
    return " (" + ", ".join(f"{k}={n}" for k, n in sorted(where.items()) if n) + ")"


async def check_cap(conn: asyncpg.Connection, p: str, records: list[FileRecord],
                    request_rows: list[asyncpg.Record]) -> Finding:
    """What the files pay each student stays within the schooling's yearly cap (calculator's data)."""
    caps = {r["schooling_id"]: r["yearly_cap_cents"]
            for r in await conn.fetch(f"SELECT schooling_id, yearly_cap_cents FROM {p}calculator.schoolings")}
    schooling_of = {row["record_id"]: row["schooling_id"] for row in request_rows}
    pfmp_of = {row["record_id"]: row["pfmp_id"] for row in request_rows}
    # A PFMP's total is its latest record's: a modification carries the new total, not a difference (§8.1).
    latest: dict[UUID, FileRecord] = {}
    for record in sorted(records, key=lambda r: r.record_id):
        if record.record_id in pfmp_of:
            latest[pfmp_of[record.record_id]] = record
    totals: Counter[UUID] = Counter()
    for record in latest.values():
        totals[schooling_of[record.record_id]] += record.cents
    over = [s for s, cents in totals.items() if caps.get(s) is None or cents > caps[s]]
    biggest = max(totals.values(), default=0)
    return Finding("yearly cap", f"{len(totals)} students paid, highest total {biggest / 100:.2f} €, "
                   f"{len(over)} over their cap", failed=bool(over))


async def check_requests(conn: asyncpg.Connection, p: str, load: Load, periods: dict[UUID, Period]) -> Finding:
    """The calculator made one payment request per expected period, no more."""
    rows = await conn.fetch(f"SELECT pfmp_id FROM {p}calculator.payment_requests WHERE kind = 'payment'")
    made = Counter(periods.get(r["pfmp_id"]) for r in rows)
    lost = len(load.periods - set(made))
    return Finding("payment requests", f"{len(rows)} requests for {len(load.periods)} periods",
                   lost=lost, duplicated=_extras(made) + sum(n for k, n in made.items() if k not in load.periods))


async def check_documents(conn: asyncpg.Connection, p: str, load: Load) -> Finding:
    """One attribution decision per student's schooling, its PDF stored (issued and not rendered counts as lost)."""
    rows = await conn.fetch(f"SELECT s.ine, count(d.document_id) AS n FROM {p}pfmp.schoolings sc "
                            f"JOIN {p}pfmp.students s USING (student_id) "
                            f"LEFT JOIN {p}documents.documents d ON d.schooling_id = sc.schooling_id "
                            f"AND d.kind = 'attribution' AND d.sha256 IS NOT NULL GROUP BY s.ine")
    issued = {r["ine"]: r["n"] for r in rows}
    expected = {ine for ine, _, _ in load.periods}
    lost = sum(1 for ine in expected if not issued.get(ine))
    duplicated = sum(n - 1 for n in issued.values() if n > 1)
    return Finding("decisions", f"{sum(issued.values())} attribution decisions for {len(expected)} students",
                   lost=lost, duplicated=duplicated)


async def stale_dropped(conn: asyncpg.Connection, p: str) -> str:
    """Stale events dropped, by service, from their `stale_events` counters ('n/a' where none exists)."""
    parts = []
    for service in ("calculator", "documents", "asp_gateway"):
        try:
            parts.append(f"{service}={await conn.fetchval(f'SELECT coalesce(sum(dropped), 0) FROM {p}{service}.stale_events')}")
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            parts.append(f"{service}=n/a")
    return " ".join(parts)


DeadLetters = Counter[tuple[str, str, bytes]]


async def read_dead_letters(bootstrap: str, namespace: str, idle_s: float = 3.0,
                            timeout: float = 60) -> tuple[DeadLetters, Counter[tuple[str, str, str]]]:
    """(source topic, service, body) of every message on the drill's dead-letter topics, and the same
    counted by (source topic, service, reason code) for the report."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, **client_kwargs())
    await consumer.start()
    found: DeadLetters = Counter()
    reasons: Counter[tuple[str, str, str]] = Counter()
    try:
        existing = set(await consumer.topics())
        wanted = [t for t in existing if t.startswith(namespace) and t.endswith(".dlt")]
        if not wanted:
            return found, reasons
        consumer.subscribe(wanted)
        started = last = time.monotonic()
        while time.monotonic() - last < idle_s and time.monotonic() - started < timeout:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                last = time.monotonic()
                for r in records:
                    headers = {k: v.decode(errors="replace") for k, v in r.headers}
                    topic = r.topic.removeprefix(namespace).removesuffix(".dlt")
                    found[(topic, headers.get("dlt-service", "?"), r.value or b"")] += 1
                    reasons[(topic, headers.get("dlt-service", "?"), headers.get("dlt-reason-code", "?"))] += 1
        return found, reasons
    finally:
        await consumer.stop()


def check_dead_letters(load: Load, found: DeadLetters, reasons: Counter[tuple[str, str, str]] | None = None) -> Finding:
    """The dead-letter topics hold exactly the injected bad messages, one per reader, as a multiset."""
    expected = load.expected_dead_letters()
    missing, extra = expected - found, found - expected
    detail = (f"{found.total()} dead letters, {expected.total()} expected ({len(load.injected)} distinct "
              f"injected on {len(READERS)} topics); {missing.total()} missing, {extra.total()} unexpected")
    if extra:
        # By reason code, over every dead letter of the topics and services that hold unexpected ones.
        where = {(topic, service) for topic, service, _ in extra}
        detail += " (" + ", ".join(f"{t}:{s}:{code}={n}" for (t, s, code), n in sorted((reasons or Counter()).items())
                                   if (t, s) in where) + ")"
    return Finding("dead letters", detail, failed=bool(missing or extra))


async def run_checks(load: Load, database_url: str, bootstrap: str, namespace: str, schema_prefix: str,
                     payment_dir: Path) -> tuple[list[Finding], str]:
    records = read_payment_files(payment_dir)
    conn = await asyncpg.connect(database_url)
    try:
        p = schema_prefix
        request_rows = await conn.fetch(f"SELECT record_id, pfmp_id, schooling_id, state, blocking_reasons "
                                        f"FROM {p}asp_gateway.payment_requests")
        periods = await _periods_of_pfmps(conn, p)
        amounts = {r["pfmp_id"]: r["amount_cents"]
                   for r in await conn.fetch(f"SELECT pfmp_id, amount_cents FROM {p}calculator.pfmps")}
        findings = [*check_payments(load, records, request_rows, periods),
                    check_modifications(load, records, request_rows, periods, amounts),
                    await check_cap(conn, p, records, request_rows),
                    await check_requests(conn, p, load, periods),
                    await check_documents(conn, p, load)]
        stale = await stale_dropped(conn, p)
    finally:
        await conn.close()
    findings.append(check_dead_letters(load, *await read_dead_letters(bootstrap, namespace)))
    return findings, stale


