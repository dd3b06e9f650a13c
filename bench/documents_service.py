"""Benchmark: documents issued and rendered per second by the running documents service, real mix, against its renderer.

Runs the real documents process (`aplypro-documents run`, 2 render workers) against the embedded broker and
database, and measures in the same run the renderer alone as bench/documents.py does (the yardstick).

    uv run python bench/documents_service.py --students 2000

Warm-up (not timed): cohort A (half of --students) registers, its schoolings open and are priced, its bank
accounts are recorded; the service issues its décisions d'attribution. Timed window: what the service gets
in a busy week of the year, all produced at once, the PFMP facts first so that a backlog of états liquidatifs
stands before the first new DA is due:
- cohort A: one validated PFMP and its payment request per schooling (→ one état liquidatif each), except a
  few withdrawn DAs (→ retraits) and a few students who changed class (→ abrogation + a new DA);
- cohort B (the other half): new students, their schoolings opened and priced (→ one DA each).
Students sit in classes of 28, three MEFs per establishment (bench/documents.py's sample).

Issue, then render (issue 12): two clocks, both from the first event produced. The issue clock stops when every
expected document is issued (a `documents` row with its number and frozen content, its DocumentIssued in the
outbox, same transaction); the render clock when every one's PDF is stored (sha256 recorded, DocumentReady in the
outbox, same transaction). The last two lines are
`rendered_per_s=<all kinds> rendered_ratio=<rendered/renderer> mix_ratio=<rendered/renderer pace of this mix>`
`service_per_s=<issued, all kinds> renderer_per_s=<bench/documents.py> ratio=<issued/renderer>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aplypro_contracts import (
    DecisionWithdrawalRequested,
    Envelope,
    Establishment,
    Identity,
    Mef,
    PaymentRequested,
    PfmpState,
    PfmpValidated,
    RibRecorded,
    SchoolingOpened,
    SchoolingPriced,
    StudentRegistered,
    to_wire,
)
from aplypro_contracts.students import Address
from aplypro_contracts.topics import CALCULATOR_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS, STUDENTS_RIBS
from aplypro_local.stack import LocalStack
from aplypro_servicekit.relay import send_in_batches

CLASS_SIZE = 28
MEFS = (
    Mef(code="2473121332", dispositif="247", diploma="40025510", duration=3, year=3,
        label="BAC PRO MÉTIERS DE LA MODE - VÊTEMENT (TERMINALE)", ministry="MENJ"),
    Mef(code="2403320322", dispositif="240", diploma="50022130", duration=2, year=2,
        label="CAP CUISINE (2E ANNEE)", ministry="MENJ"),
    Mef(code="2763310231", dispositif="276", diploma="40031211", duration=3, year=1,
        label="BAC PRO CONDUITE DE PRODUCTIONS AGRICOLES (SECONDE)", ministry="MASA"),
)  # fmt: skip
LAST = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau")
FIRST = ("Léa", "Hugo", "Chloé", "Louis", "Inès", "Gabriel", "Zoé", "Noah", "Maëlys", "Raphaël")
YEAR, OPENED = 2025, date(2025, 9, 1)
TODAY = datetime.now(ZoneInfo("Europe/Paris")).date()  # the service's calendar day (abrogations are due)
Record = tuple[str, bytes, bytes, list[tuple[str, bytes]]]  # topic (without namespace), key, body, headers


def record(topic: str, key: uuid.UUID, event: Envelope) -> Record:
    body, headers = to_wire(event)
    return topic, str(key).encode(), body, list(headers.items())


def school(number: int) -> Establishment:
    return Establishment(uai=f"{790000 + number:07d}{'ABCDEFGH'[number % 8]}", name=f"Lycée professionnel n° {number}",
                         address_lines=(f"{number} rue de l'Industrie",), postal_code="69100",
                         city_name="Villeurbanne", email=f"ce.{790000 + number:07d}@ac-lyon.fr",
                         phone="04 78 00 00 00", head_name="Claire Fontaine")  # fmt: skip


@dataclass
class Student:
    index: int
    student_id: uuid.UUID = field(default_factory=uuid.uuid4)
    schooling_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def group(self) -> int:
        return self.index // CLASS_SIZE

    def school(self) -> Establishment:
        return school(self.group // 3)

    def mef(self) -> Mef:
        return MEFS[self.group % 3]


def arrival(s: Student) -> list[Record]:
    """A student registered, schooled and priced: what a DA is made of."""
    identity = Identity(ine=f"{s.index:09d}AB", last_name=f"{LAST[s.index % 10]}-{s.index:05d}",
                        first_names=(FIRST[(s.index * 7) % 10],), birth_date=date(2008 + s.index % 3, 1 + s.index % 12, 1 + s.index % 28),
                        address=Address(lines=(f"{1 + s.index % 120} avenue de la République",), postal_code="69003",
                                         city_name="Lyon"))  # fmt: skip
    return [
        record(STUDENTS_EVENTS, s.student_id, StudentRegistered(producer="bench", student_id=s.student_id, version=1,
                                                                identity=identity)),
        record(STUDENTS_EVENTS, s.student_id, SchoolingOpened(
            producer="bench", schooling_id=s.schooling_id, student_id=s.student_id, establishment=s.school(),
            class_label=f"C{s.group % 3}", school_year=YEAR, mef=s.mef(), start_date=OPENED, version=1)),
        record(CALCULATOR_EVENTS, s.student_id, SchoolingPriced(
            producer="bench", schooling_id=s.schooling_id, student_id=s.student_id, school_year=YEAR, priced=True,
            daily_rate_cents=1500, yearly_cap_cents=1500 * 5 * 6)),
        record(STUDENTS_RIBS, s.student_id, RibRecorded(
            producer="bench", rib_id=uuid.uuid4(), student_id=s.student_id, establishment_uai=s.school().uai,
            owner_type="personal", holder_name=f"Famille {LAST[s.index % 10]}", iban="FR7630006000011234567890189",
            bic="AGRIFRPPXXX", version=1)),
    ]


def payment(s: Student) -> list[Record]:
    """One validated PFMP and its payment request: the schooling's état liquidatif."""
    pfmp = PfmpState(pfmp_id=uuid.uuid4(), schooling_id=s.schooling_id, student_id=s.student_id,
                     start_date=date(2025, 10, 6), end_date=date(2025, 10, 24), day_count=15, status="validated",
                     created_seq=0, rank=1, version=3)  # fmt: skip
    return [
        record(PFMP_EVENTS, s.student_id, PfmpValidated(producer="bench", pfmp=pfmp)),
        record(CALCULATOR_EVENTS, s.student_id, PaymentRequested(
            producer="bench", payment_request_id=uuid.uuid4(), pfmp_id=pfmp.pfmp_id, schooling_id=s.schooling_id,
            student_id=s.student_id, amount_cents=22500, day_count=15, pfmp_rank=1, version=1)),
    ]


def withdrawal(s: Student) -> list[Record]:
    return [record(PFMP_EVENTS, s.student_id, DecisionWithdrawalRequested(
        producer="bench", schooling_id=s.schooling_id, student_id=s.student_id, reason="never_attended",
        requested_by="director:bench"))]


def class_change(s: Student, moved: Student) -> list[Record]:
    """The student left their class yesterday for another MEF: abrogation of the old DA, a new DA."""
    closed = SchoolingOpened(producer="bench", schooling_id=s.schooling_id, student_id=s.student_id,
                             establishment=s.school(), class_label=f"C{s.group % 3}", school_year=YEAR, mef=s.mef(),
                             start_date=OPENED, end_date=TODAY - timedelta(days=1), version=2)  # fmt: skip
    opened = SchoolingOpened(producer="bench", schooling_id=moved.schooling_id, student_id=s.student_id,
                             establishment=s.school(), class_label="MOVED", school_year=YEAR,
                             mef=MEFS[(s.group + 1) % 3], start_date=TODAY, version=1)  # fmt: skip
    priced = SchoolingPriced(producer="bench", schooling_id=moved.schooling_id, student_id=s.student_id,
                             school_year=YEAR, priced=True, daily_rate_cents=1500, yearly_cap_cents=45000)
    return [record(STUDENTS_EVENTS, s.student_id, closed), record(STUDENTS_EVENTS, s.student_id, opened),
            record(CALCULATOR_EVENTS, s.student_id, priced)]  # fmt: skip


async def produce(bootstrap: str, namespace: str, items: list[Record]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=512 * 1024)
    await producer.start()
    try:
        partitions = {topic: sorted(await producer.partitions_for(namespace + topic)) for topic in {i[0] for i in items}}
        partitioner = DefaultPartitioner()
        await send_in_batches(
            producer, [(namespace + topic, key, body, headers) for topic, key, body, headers in items],
            lambda topic, key: int(partitioner(key, partitions[topic[len(namespace):]],
                                               partitions[topic[len(namespace):]])))  # fmt: skip
    finally:
        await producer.stop()


async def issued(url: str, schema: str, since: datetime | None = None,
                 rendered: bool = False) -> dict[str, tuple[int, float]]:
    """Per kind: documents issued (since `since`) and seconds from `since` to the last one; `rendered`: those of
    them whose PDF is stored, and seconds to the last render."""
    at = "rendered_at" if rendered else "created_at"
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            f"SELECT kind, count(*) AS n, extract(epoch FROM max({at}) - $1::timestamptz) AS last "
            f"FROM {schema}.documents WHERE created_at >= $1 "
            + ("AND sha256 IS NOT NULL " if rendered else "") + "GROUP BY kind",
            since or datetime(2000, 1, 1, tzinfo=UTC))
        return {r["kind"]: (int(r["n"]), float(r["last"])) for r in rows}
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return {}
    finally:
        await conn.close()


def renderer_rate(count: int, workers: int) -> tuple[float, float]:
    """bench/documents.py's fast path on this machine now: DAs per second, and états liquidatifs per second."""
    from aplypro_documents.rendering.pool import render_parallel, worker_pool
    from aplypro_documents.rendering.samples import class_decisions, liquidation

    docs = class_decisions(count)
    # One PFMP section each, as the timed mix's états liquidatifs (the sample has two).
    statements = [replace(doc, sections=doc.sections[:1]) for doc in map(liquidation, range(max(20, count // 10)))]
    with worker_pool(workers) as executor:
        render_parallel(docs[: 2 * workers], executor, chunk_size=1)  # start and warm every worker
        started = time.perf_counter()
        render_parallel(docs, executor)
        das = count / (time.perf_counter() - started)
        started = time.perf_counter()
        render_parallel(statements, executor)
        els = len(statements) / (time.perf_counter() - started)
    return das, els


async def wait_for(url: str, schema: str, since: datetime | None, expected: dict[str, int], timeout: float,
                   priced: int = 0) -> dict[str, float]:
    """Seconds until each kind had its expected count issued (`<kind>`) and rendered (`<kind>:rendered`), and
    `projected`: until `priced` schoolings had their barème in the projection (the consumer had read the
    arrivals); missing keys when the time ran out."""
    started, deadline = time.perf_counter(), time.monotonic() + timeout
    reached: dict[str, float] = {}
    conn = await asyncpg.connect(url)
    try:
        while time.monotonic() < deadline and len(reached) < 2 * len(expected) + (1 if priced else 0):
            done = await issued(url, schema, since)
            pdfs = await issued(url, schema, since, rendered=True)
            now = time.perf_counter() - started
            for kind, n in expected.items():
                if kind not in reached and done.get(kind, (0, 0.0))[0] >= n:
                    reached[kind] = now
                if f"{kind}:rendered" not in reached and pdfs.get(kind, (0, 0.0))[0] >= n:
                    reached[f"{kind}:rendered"] = now
            if priced and "projected" not in reached and await conn.fetchval(
                    f"SELECT count(*) FROM {schema}.pricing") >= priced:
                reached["projected"] = now
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return reached


async def main(args: argparse.Namespace, workdir: Path) -> None:
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    config = {"APLYPRO_DOCUMENTS_RENDER_WORKERS": str(args.workers)}
    config = {k: os.environ.get(k, v) for k, v in config.items()}
    print(" ".join(f"{k}={v}" for k, v in sorted({**config, **{k: v for k, v in os.environ.items()
                                                                 if k.startswith("APLYPRO_DOCUMENTS_")}}.items())))
    renderer_das, renderer_els = renderer_rate(args.yardstick, args.workers)
    print(f"renderer (bench/documents.py fast path, {args.yardstick} DAs): {renderer_das:.1f} DAs/s; "
          f"états liquidatifs: {renderer_els:.1f}/s")
    stack = LocalStack(workdir, extra_env={"APLYPRO_TOPIC_NAMESPACE": namespace, **config})
    stack.start_servers()
    bootstrap, url = stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.env["DATABASE_URL"]
    schema = f"{stack.schema_prefix}documents"
    try:
        half = args.students // 2
        cohort_a = [Student(i) for i in range(half)]
        cohort_b = [Student(i) for i in range(half, args.students)]
        stack.start_service("documents")
        # Warm-up: cohort A's DAs (also creates the topics and lets the consumer join its group).
        await produce(bootstrap, namespace, [r for s in cohort_a for r in arrival(s)])
        if "attribution:rendered" not in await wait_for(url, schema, None, {"attribution": half}, args.timeout):
            raise SystemExit("warm-up: cohort A's DAs were not all issued and rendered in time")
        print(f"warm-up: {half} DAs issued and rendered")

        every = max(1, round(1 / args.rare)) if args.rare > 0 else 0
        withdrawn = cohort_a[::every][: len(cohort_a[::every]) // 2] if every else []
        moving = cohort_a[1::every][: len(cohort_a[1::every]) // 2] if every else []
        moved = [Student(args.students + i) for i in range(len(moving))]
        skip = {s.index for s in withdrawn} | {s.index for s in moving}
        paying = [s for s in cohort_a if s.index not in skip][: round(args.paying * len(cohort_a))]
        mix = [r for s in paying for r in payment(s)]
        mix += [r for s in withdrawn for r in withdrawal(s)]
        mix += [r for s, m in zip(moving, moved, strict=True) for r in class_change(s, m)]
        mix += [r for s in cohort_b for r in arrival(s)]
        expected = {"attribution": len(cohort_b) + len(moved), "liquidation": len(paying),
                    "withdrawal": len(withdrawn), "abrogation": len(moving)}
        expected = {k: v for k, v in expected.items() if v}
        print("timed mix: " + " ".join(f"{k}={v}" for k, v in expected.items()))

        conn = await asyncpg.connect(url)
        since = await conn.fetchval("SELECT now()")
        await conn.close()
        started = time.perf_counter()
        await produce(bootstrap, namespace, mix)
        print(f"produced {len(mix)} events in {time.perf_counter() - started:.1f} s (times below count from then)")
        reached = await wait_for(url, schema, since, expected, args.timeout, priced=args.students + len(moved))
        done = await issued(url, schema, since)
        pdfs = await issued(url, schema, since, rendered=True)
        total = sum(n for n, _ in done.values())
        stored = sum(n for n, _ in pdfs.values())
        if "projected" in reached:
            print(f"projected: every arrival's barème read at {reached['projected']:.1f} s")
        for kind, (n, _) in sorted(done.items()):
            at, rendered_at = reached.get(kind), reached.get(f"{kind}:rendered")
            print(f"{kind}: {n} issued" + (f", all by {at:.1f} s, {n / at:.1f}/s" if at else "")
                  + f"; {pdfs.get(kind, (0, 0.0))[0]} rendered"
                  + (f", all by {rendered_at:.1f} s, {n / rendered_at:.1f}/s" if rendered_at else ""))
        # Each clock stops when its last expected document is in (the polling above, every 0.1 s).
        issue_s = max((reached[k] for k in expected if k in reached), default=time.perf_counter() - started)
        render_s = max((reached[f"{k}:rendered"] for k in expected if f"{k}:rendered" in reached),
                       default=time.perf_counter() - started)
        if not all(kind in reached for kind in expected):
            print(f"TIMEOUT after {args.timeout:.0f} s: {total} of {sum(expected.values())} issued")
            issue_s = time.perf_counter() - started
        if not all(f"{kind}:rendered" in reached for kind in expected):
            print(f"TIMEOUT after {args.timeout:.0f} s: {stored} of {sum(expected.values())} rendered")
            render_s = time.perf_counter() - started
        rate, rendered_rate = total / issue_s, stored / render_s
        print(f"documents={total} issued_seconds={issue_s:.2f} rendered={stored} rendered_seconds={render_s:.2f}")
        # The renderer-bound pace of this very mix: each kind at the renderer's own rate for it (retraits and
        # abrogations, laid out in full like états liquidatifs, counted at that rate).
        heavy = total - done.get("attribution", (0, 0.0))[0]
        bound = total / (heavy / renderer_els + (total - heavy) / renderer_das)
        print(f"mix_renderer_per_s={bound:.1f} issued_mix_ratio={rate / bound:.2f}")
        print(f"rendered_per_s={rendered_rate:.1f} rendered_ratio={rendered_rate / renderer_das:.2f} "
              f"mix_ratio={rendered_rate / bound:.2f}")
        print(f"service_per_s={rate:.1f} renderer_per_s={renderer_das:.1f} ratio={rate / renderer_das:.2f}")
    finally:
        stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000, help="cohorts A and B together")
    parser.add_argument("--workers", type=int, default=2, help="render workers of the service and the yardstick")
    parser.add_argument("--yardstick", type=int, default=1000, help="DAs rendered by the renderer alone")
    parser.add_argument("--rare", type=float, default=0.04,
                        help="share of cohort A that gets a retrait or a class change (half each)")
    parser.add_argument("--paying", type=float, default=1.0,
                        help="share of cohort A with a payment request in the timed window (0: DAs only, bar the rare)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--workdir", type=Path, help="keep data and logs here instead of a temporary folder")
    args = parser.parse_args()
    if args.workdir:
        asyncio.run(main(args, args.workdir.resolve()))
    else:
        with tempfile.TemporaryDirectory(prefix="aplybench-") as tmp:
            asyncio.run(main(args, Path(tmp)))
    sys.exit(0)
