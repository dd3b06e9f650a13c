"""Benchmark: the documents issuer alone, one document at a time against built together, in the same run.

    uv run python bench/documents_issue.py --students 4000

Two schemas of one embedded PostgreSQL are fed the same students through the projection (the consumer's
handlers): registered, schooled and priced in classes of 28 (bench/documents_service.py's sample), with their
bank accounts. Timed, in each schema: the issue lane (DecisionIssuer.issue_batch, batches of the service's
size) issues every DA; then each student gets a validated PFMP and a payment request, and the lane issues every
état liquidatif. One schema with `together=False` (each document built by itself under its savepoint: the code
before), the other with the batch built together (issue_together.py). Printed per phase and mode: documents/s,
CPU seconds of this Python process and of PostgreSQL (the postmaster and its backends, psutil), CPU ms per
document, and the ratios. CPU seconds say more than rates on a shared machine: a rate moves with the others'
load, the CPU a document costs does not much.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from aplypro_contracts import (
    Address,
    Establishment,
    Identity,
    PaymentRequested,
    PfmpState,
    PfmpValidated,
    RibRecorded,
    SchoolingOpened,
    SchoolingPriced,
    StudentRegistered,
)
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.service_layer.issue import DecisionIssuer
from aplypro_documents.service_layer.projection import Projection
from aplypro_servicekit.db import create_pool, migrate
from documents_service import CLASS_SIZE, MEFS, OPENED, YEAR  # the service bench's sample

Handler = Callable[[Any, Any], Awaitable[None]]


def school(number: int) -> Establishment:
    return Establishment(uai=f"{790000 + number:07d}{'ABCDEFGH'[number % 8]}", name=f"Lycée professionnel n° {number}",
                         address_lines=(f"{number} rue de l'Industrie",), postal_code="69100",
                         city_name="Villeurbanne", head_name="Claire Fontaine")  # fmt: skip


@dataclass
class Student:
    index: int
    student_id: uuid.UUID = field(default_factory=uuid.uuid4)
    schooling_id: uuid.UUID = field(default_factory=uuid.uuid4)
    pfmp_id: uuid.UUID = field(default_factory=uuid.uuid4)
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    rib_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def establishment(self) -> Establishment:
        return school(self.index // CLASS_SIZE // 3)

    def arrival(self, p: Projection) -> list[tuple[Handler, Any]]:
        """What a DA and an état liquidatif print besides the PFMP: identity, schooling, barème, bank account."""
        i, group = self.index, self.index // CLASS_SIZE
        identity = Identity(ine=f"{i:09d}AB", last_name=f"Élève-{i:05d}", first_names=("Léa",),
                            birth_date=date(2008, 1 + i % 12, 1 + i % 28),
                            address=Address(lines=(f"{1 + i % 120} avenue de la République",), postal_code="69003",
                                            city_name="Lyon"))  # fmt: skip
        return [
            (p.on_student_registered, StudentRegistered(producer="bench", student_id=self.student_id, version=1,
                                                        identity=identity)),
            (p.on_schooling_opened, SchoolingOpened(
                producer="bench", schooling_id=self.schooling_id, student_id=self.student_id,
                establishment=self.establishment, class_label=f"C{group % 3}", school_year=YEAR,
                mef=MEFS[group % 3], start_date=OPENED, version=1)),
            (p.on_schooling_priced, SchoolingPriced(
                producer="bench", schooling_id=self.schooling_id, student_id=self.student_id, school_year=YEAR,
                priced=True, daily_rate_cents=1500, yearly_cap_cents=45000)),
            (p.on_rib_recorded, RibRecorded(
                producer="bench", rib_id=self.rib_id, student_id=self.student_id,
                establishment_uai=self.establishment.uai, owner_type="personal", holder_name="Famille Bench",
                iban="FR7630006000011234567890189", bic="AGRIFRPPXXX", version=1)),
        ]  # fmt: skip

    def payment(self, p: Projection) -> list[tuple[Handler, Any]]:
        """A validated PFMP and its payment request: the schooling's état liquidatif."""
        pfmp = PfmpState(pfmp_id=self.pfmp_id, schooling_id=self.schooling_id, student_id=self.student_id,
                         start_date=date(2025, 10, 6), end_date=date(2025, 10, 24), day_count=15, status="validated",
                         created_seq=0, rank=1, version=3)  # fmt: skip
        return [
            (p.on_pfmp_validated, PfmpValidated(producer="bench", pfmp=pfmp)),
            (p.on_payment_requested, PaymentRequested(
                producer="bench", payment_request_id=self.request_id, pfmp_id=self.pfmp_id,
                schooling_id=self.schooling_id, student_id=self.student_id, amount_cents=22500, day_count=15,
                pfmp_rank=1, version=1)),
        ]  # fmt: skip


@contextmanager
def database(work: Path) -> Iterator[tuple[str, psutil.Process | None]]:
    """DATABASE_URL when set (its CPU not measured), else an embedded PostgreSQL in `work` and its postmaster."""
    if url := os.environ.get("DATABASE_URL"):
        yield url, None
        return
    from aplypro_local.embedded import EmbeddedPostgres

    postgres = EmbeddedPostgres.start(work / "pgdata")
    try:
        pid = int((work / "pgdata" / "postmaster.pid").read_text().split()[0])
        yield postgres.url, psutil.Process(pid)
    finally:
        postgres.stop()


def postgres_cpu(postmaster: psutil.Process | None) -> float:
    """CPU seconds of PostgreSQL so far: the postmaster, its ended backends and its live ones."""
    if postmaster is None:
        return 0.0
    own = postmaster.cpu_times()
    total: float = own.user + own.system + own.children_user + own.children_system
    for child in postmaster.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def feed(pool: asyncpg.Pool, chains: list[list[tuple[Handler, Any]]]) -> None:
    """Each chain's events in order, one transaction each (as the consumer); chains side by side."""
    gate = asyncio.Semaphore(6)

    async def one(chain: list[tuple[Handler, Any]]) -> None:
        async with gate:
            for handler, event in chain:
                async with pool.acquire() as conn, conn.transaction():
                    await handler(conn, event)

    await asyncio.gather(*(one(chain) for chain in chains))


async def issue_all(issuer: DecisionIssuer, postmaster: psutil.Process | None) -> tuple[int, float, float, float]:
    """Runs the issue lane until the queue is empty: documents issued, seconds, Python and PostgreSQL CPU s."""
    issued, me = issuer.issued, psutil.Process()
    cpu, pg, started = me.cpu_times(), postgres_cpu(postmaster), time.perf_counter()
    while await issuer.issue_batch():
        pass
    seconds = time.perf_counter() - started
    after = me.cpu_times()
    return (issuer.issued - issued, seconds, after.user + after.system - cpu.user - cpu.system,
            postgres_cpu(postmaster) - pg)


async def main(args: argparse.Namespace, work: Path) -> None:
    load = os.getloadavg()
    print(f"load: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min); students={args.students} "
          f"batch_size={args.batch_size}")
    students = [Student(i) for i in range(args.students)]
    with database(work) as (url, postmaster):
        pools: dict[bool, asyncpg.Pool] = {}
        for together in (False, True):
            settings = DocumentsSettings(APLYPRO_TOPIC_NAMESPACE=f"bench{'t' if together else 'o'}{uuid.uuid4().hex[:6]}.")
            schema = settings.db_schema("documents")
            pools[together] = await create_pool(url, schema, size=8)
            await migrate(pools[together], schema, ["aplypro_servicekit", "aplypro_documents"])
        projection = Projection()
        topic = "bench.documents.events"
        issuers = {together: DecisionIssuer(pool=pool, topic=topic, batch_size=args.batch_size, attempts=3,
                                            together=together) for together, pool in pools.items()}  # fmt: skip
        results: dict[tuple[str, bool], tuple[int, float, float, float]] = {}
        for phase, events in (("DAs", Student.arrival), ("états liquidatifs", Student.payment)):
            for pool in pools.values():
                await feed(pool, [events(s, projection) for s in students])
            # One mode after the other, each on its own schema (the same rows in both).
            for together in (False, True):
                results[phase, together] = await issue_all(issuers[together], postmaster)
        for pool in pools.values():
            await pool.close()
    for phase in ("DAs", "états liquidatifs"):
        rows = []
        for together in (False, True):
            n, seconds, python, pg = results[phase, together]
            rows.append((n, seconds, python, pg))
            print(f"{phase} {'together ' if together else 'one by one'}: {n} issued in {seconds:.2f} s, "
                  f"{n / seconds:.1f}/s; CPU python {python:.2f} s, postgres {pg:.2f} s; "
                  f"{1000 * python / n:.2f} + {1000 * pg / n:.2f} ms per document")
        (n0, s0, p0, g0), (n1, s1, p1, g1) = rows
        print(f"{phase} ratio (together / one by one): rate x{(n1 / s1) / (n0 / s0):.2f}, python CPU "
              f"x{(p1 / n1) / (p0 / n0):.2f}, postgres CPU x{(g1 / n1) / (g0 / n0) if g0 else float('nan'):.2f}")
    load = os.getloadavg()
    print(f"load after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=4000, help="one DA and one état liquidatif each")
    parser.add_argument("--batch-size", type=int, default=DocumentsSettings().render_batch_size,
                        help="documents per issue batch (the service's render_batch_size)")
    parser.add_argument("--workdir", type=Path, help="keep the database here instead of a temporary folder")
    args = parser.parse_args()
    if args.workdir:
        asyncio.run(main(args, args.workdir.resolve()))
    else:
        with tempfile.TemporaryDirectory(prefix="aplybench-issue-") as tmp:
            asyncio.run(main(args, Path(tmp)))
