"""Benchmark: the gateway's payment-file builder at volume, on a real PostgreSQL, end to end.

    uv run python bench/asp_build.py --students 20000                 # 2 PFMPs each: 40,000 requests
    uv run python bench/asp_build.py --students 5000 --files 1 --profile /tmp/asp-build.prof
    # against another commit's gateway (the rest of the workspace is this tree's):
    mkdir -p /tmp/base && git archive main services/asp-gateway/src | tar -x -C /tmp/base
    PYTHONPATH=/tmp/base/services/asp-gateway/src uv run python bench/asp_build.py --students 10000

One embedded PostgreSQL (or DATABASE_URL), a gateway schema of its own. The projection is filled as the
consumers fill it: the gateway's own handlers (service_layer/projection.py) fed StudentRegistered,
SchoolingOpened, SchoolingPriced, RibRecorded, DocumentReady (the DA) and PaymentRequested, fictitious and
varied (demo-file's names, addresses abroad, French and foreign IBANs); every student's first PFMP is requested
before the second ones, as the calculator does when a year's PFMPs arrive; `--incomplete` of the students have
no RIB (their requests are the build's "others", blocked with `missing_rib`).

Then `build_payment_file` runs as the service runs it (the G5 watch, the statistics refresh, the locks, the
reads, the checks, the XML, the XSD, the writes, the outbox, the file to the drop folder and `sent`) until a
build leaves nothing or `--files` files are built. Each build is timed end to end (records/s) and by phase (the
builder's steps wrapped with a timer, nothing changed in them); the yardstick is a bare lxml serialisation of
the same file's tree, in the same run. A student's second PFMP waits for the first one's integration (§4.3):
nobody answers here, so those requests end blocked (`individual_being_created` and the like): the last build
checks them all, the "others" path at volume.

The machine is shared: beside the wall time each build shows its CPU, this process's (checks, XML, XSD, asyncpg)
plus the PostgreSQL server's (its live processes: with an external DATABASE_URL only when it runs here), the
figure that compares across runs on a loaded machine.

The last line sums it up over every build: `records=… build_s=… records_per_s=… cpu_s=… records_per_cpu_s=…
bare_serialize_s=… ratio=…` (ratio: the builds' wall time to the yardstick's).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import os
import random
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from aplypro_asp_gateway.adapters import requests_repo, send_repo
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.entrypoints.demo_file import FOREIGN_ACCOUNTS, SCHOOLS, _student, french_iban
from aplypro_asp_gateway.entrypoints.service import build_options
from aplypro_asp_gateway.service_layer import build, projection
from aplypro_contracts import (
    Address,
    DocumentReady,
    Establishment,
    Identity,
    Mef,
    PaymentRequested,
    RibRecorded,
    SchoolingOpened,
    SchoolingPriced,
    StudentRegistered,
)
from aplypro_servicekit.db import create_pool, migrate
from lxml import etree

MEFS = {"MENJ": Mef(code="2473121133", dispositif="247", diploma="40025510", duration=3, year=3,
                    label="BAC PRO METIERS DE L'ELECTRICITE", ministry="MENJ"),
        "MASA": Mef(code="2763100331", dispositif="276", diploma="40321204", duration=3, year=3,
                    label="BAC PRO AGROEQUIPEMENT", ministry="MASA"),
        "MER": Mef(code="2473121133", dispositif="247", diploma="40025510", duration=3, year=3,
                   label="BAC PRO CONDUITE ET GESTION DES ENTREPRISES MARITIMES", ministry="MER")}
FILL_BATCH = 250  # students a transaction while filling

TIMINGS: dict[str, float] = defaultdict(float)


def timed(name: str, work: Callable[..., Any]) -> Callable[..., Any]:
    """`work` with its wall time added to TIMINGS[name] (coroutine functions and plain ones)."""
    if asyncio.iscoroutinefunction(work):
        @functools.wraps(work)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await work(*args, **kwargs)
            finally:
                TIMINGS[name] += time.perf_counter() - started
        return run_async

    @functools.wraps(work)
    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return work(*args, **kwargs)
        finally:
            TIMINGS[name] += time.perf_counter() - started
    return run


def instrument() -> None:
    """The builder's steps, timed where build.py calls them (module attributes looked up at call time)."""
    for module, name, label in (
        (build, "watch_answers", "g5_watch"), (build, "refresh_stale_statistics", "statistics"),
        (build, "lock_build", "lock"), (requests_repo, "sync_funding", "funding"),
        (requests_repo, "pending_requests", "read_pending"), (build, "prepare_all", "checks"),
        (requests_repo, "numbers_sent_first", "numbers_sent"), (requests_repo, "known_ids", "known_ids"),
        (build, "assemble", "assemble_xml_xsd"), (requests_repo, "record_blocked", "record_blocked"),
        (build, "store_file", "store_file"), (requests_repo, "insert_file_records", "insert_file_records"),
        (send_repo, "bind_to_file", "bind_to_file"), (build, "write_outbox", "outbox"),
        (build, "write_pending_files", "handover"),
    ):
        if hasattr(module, name):  # a baseline tree (PYTHONPATH) may lack a step
            setattr(module, name, timed(label, getattr(module, name)))


async def fill(pool: asyncpg.Pool, students: int, pfmps: int, incomplete: float, seed: int) -> int:
    """The projection as the consumers write it; returns the requests fed."""
    rng = random.Random(seed)  # fictitious data, reproducible by seed
    schoolings: list[tuple[uuid.UUID, uuid.UUID]] = []
    version = 0
    for start in range(0, students, FILL_BATCH):
        async with pool.acquire() as conn, conn.transaction():
            for n in range(start, min(start + FILL_BATCH, students)):
                version += 1
                uai, commune, postal, ministry, contract = rng.choice(SCHOOLS)
                student = _student(rng, abroad=n % 6 == 1)
                student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
                identity = Identity(
                    ine=f"{n:09d}AB", last_name=student.last_name, first_names=student.first_names,
                    birth_date=student.birth_date, sex=student.sex, birth_city_insee=student.birth_city_insee,
                    birth_country_insee=student.birth_country_insee,
                    address=Address(lines=student.address_lines, postal_code=student.postal_code,
                                    city_insee=student.city_insee, city_name=student.city_name,
                                    country_insee=student.country_insee))
                await projection.on_student_registered(conn, StudentRegistered(
                    producer="students", version=1, student_id=student_id, identity=identity))
                await projection.on_schooling_opened(conn, SchoolingOpened(
                    producer="students", schooling_id=schooling_id, student_id=student_id,
                    establishment=Establishment(uai=uai, name="LP bench", ministry=ministry,
                                                contract_type_code=contract, postal_code=postal,
                                                city_insee=commune),
                    class_label="TLE PRO", school_year=2025, mef=MEFS[ministry], start_date=date(2025, 9, 1),
                    version=version))
                await projection.on_schooling_priced(conn, SchoolingPriced(
                    producer="calculator", schooling_id=schooling_id, student_id=student_id, school_year=2025,
                    priced=True, daily_rate_cents=1500, yearly_cap_cents=60000))
                if rng.random() >= incomplete:
                    iban, bic = french_iban(rng) if rng.random() < 0.9 else rng.choice(FOREIGN_ACCOUNTS)
                    await projection.on_rib_recorded(conn, RibRecorded(
                        producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=uai,
                        owner_type="personal", holder_name=f"{student.first_names[0]} {student.last_name}"[:70],
                        iban=iban, bic=bic, version=version))
                number = f"ENPU{schooling_id.hex[:10].upper()}20251"
                await projection.on_document(conn, DocumentReady(
                    producer="documents", document_id=uuid.uuid4(), kind="attribution", schooling_id=schooling_id,
                    student_id=student_id, number=number, version=1, storage_ref="r.pdf", sha256="0" * 64,
                    size_bytes=10))
                schoolings.append((student_id, schooling_id))
    fed = 0
    for rank in range(1, pfmps + 1):  # every first PFMP, then every second one
        for start in range(0, len(schoolings), FILL_BATCH * 4):
            async with pool.acquire() as conn, conn.transaction():
                for student_id, schooling_id in schoolings[start:start + FILL_BATCH * 4]:
                    days = rng.randint(5, 40)
                    await projection.on_payment_requested(conn, PaymentRequested(
                        producer="calculator", payment_request_id=uuid.uuid4(), pfmp_id=uuid.uuid4(),
                        schooling_id=schooling_id, student_id=student_id, amount_cents=1500 * days,
                        day_count=days, pfmp_rank=rank, version=1))
                    fed += 1
    return fed


def server_cpu_s(postmaster: int | None) -> float:
    """CPU of the PostgreSQL server's live processes (its backends, autovacuum): 0 when it is not local."""
    import psutil

    if postmaster is None:
        return 0.0
    total = 0.0
    try:
        root = psutil.Process(postmaster)
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
    except psutil.NoSuchProcess:
        return 0.0
    return total


async def postmaster_of(pool: asyncpg.Pool) -> int | None:
    import psutil

    try:
        parent: int = psutil.Process(int(await pool.fetchval("SELECT pg_backend_pid()"))).ppid()
        return parent
    except psutil.Error:
        return None  # a server elsewhere


def bare_serialize_s(content: bytes) -> float:
    """The yardstick: lxml serialising the very file's tree (parsed outside the timing), best of 3."""
    tree = etree.fromstring(content, etree.XMLParser(huge_tree=True))
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        etree.tostring(tree, encoding="US-ASCII", pretty_print=True)
        timings.append(time.perf_counter() - started)
    return min(timings)


async def run(url: str, args: argparse.Namespace, work: Path) -> None:
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    settings = AspSettings(APLYPRO_TOPIC_NAMESPACE=namespace, outbox_dir=work / "outbox", send_days="mon,tue,wed,"
                           "thu,fri,sat,sun", send_window="00:00-23:59", skip_public_holidays=False,
                           max_files_per_day=1000, max_records_per_week=10_000_000)
    options = build_options(settings)
    schema = options.schema
    pool = await create_pool(url, schema, size=2)
    try:
        await migrate(pool, schema, ["aplypro_servicekit", "aplypro_asp_gateway"])
        started = time.perf_counter()
        fed = await fill(pool, args.students, args.pfmps, args.incomplete, args.seed)
        print(f"filled: students={args.students} requests={fed} in {time.perf_counter() - started:.1f} s "
              f"(schema {schema})")
        if args.analyze:
            await pool.execute("ANALYZE")
        instrument()
        profiler = cProfile.Profile() if args.profile else None
        total_s, total_records, total_yard, total_cpu = 0.0, 0, 0.0, 0.0
        postmaster = await postmaster_of(pool)
        for n in range(1, args.files + 1):
            TIMINGS.clear()
            if profiler:
                profiler.enable()
            cpu_before, server_before = time.process_time(), server_cpu_s(postmaster)
            started = time.perf_counter()
            result = await build.build_payment_file(pool, options)
            elapsed = time.perf_counter() - started
            cpu, server = time.process_time() - cpu_before, server_cpu_s(postmaster) - server_before
            if profiler:
                profiler.disable()
            content = b""
            if result.file_name:
                content = await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1",
                                              result.file_name)
            yard = bare_serialize_s(content) if content else 0.0
            phases = " ".join(f"{k}={v:.2f}" for k, v in sorted(TIMINGS.items(), key=lambda kv: -kv[1]) if v >= 0.005)
            print(f"build {n}: records={result.records} blocked={result.blocked} bytes={len(content)} "
                  f"s={elapsed:.2f} records_per_s={result.records / elapsed:.0f} cpu_s={cpu:.2f} "
                  f"server_cpu_s={server:.2f} bare_serialize_s={yard:.3f}")
            print(f"  phases: {phases}")
            # Every build counts, the ones that only hold requests back too: they are part of the year's work.
            total_s, total_records, total_yard = total_s + elapsed, total_records + result.records, total_yard + yard
            total_cpu += cpu + server
            if result.records == 0 and result.blocked == 0:
                break
        if profiler:
            profiler.dump_stats(args.profile)
            print(f"profile: {args.profile}")
        states = {r["state"]: r["n"] for r in await pool.fetch(
            "SELECT state, count(*) AS n FROM payment_requests GROUP BY state")}
        print(f"states: {states}")
        rate = total_records / total_s if total_s else 0.0
        cpu_rate = total_records / total_cpu if total_cpu else 0.0
        print(f"records={total_records} build_s={total_s:.2f} records_per_s={rate:.0f} cpu_s={total_cpu:.2f} "
              f"records_per_cpu_s={cpu_rate:.0f} bare_serialize_s={total_yard:.3f} "
              f"ratio={total_s / total_yard if total_yard else 0:.1f}")
    finally:
        if not args.keep:
            await pool.execute(f"DROP SCHEMA {schema} CASCADE")
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--students", type=int, default=20000)
    parser.add_argument("--pfmps", type=int, default=2, help="PFMPs (payment requests) per student")
    parser.add_argument("--incomplete", type=float, default=0.02, help="share of students without a RIB")
    parser.add_argument("--files", type=int, default=20, help="builds at most (stops when one leaves nothing)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--analyze", action="store_true", help="ANALYZE after the fill (else: the build's own)")
    parser.add_argument("--profile", type=Path, help="cProfile of the builds into this file")
    parser.add_argument("--keep", action="store_true", help="keep the schema (DATABASE_URL) for a look after")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="asp-build-"))
    url = os.environ.get("DATABASE_URL")
    postgres = None
    try:
        if url is None:
            from aplypro_local.embedded import EmbeddedPostgres

            postgres = EmbeddedPostgres.start(work / "pgdata")
            url = postgres.url
        asyncio.run(run(url, args, work))
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
