"""Benchmark: the outbox relay of the students service, from a full outbox to every record on the broker.

    uv run python bench/outbox_relay.py --events 200000
    uv run python bench/outbox_relay.py --events 200000 --py-spy /tmp/relay.txt   # py-spy on PATH

Fills the students schema's outbox with N events the way a SYGNE import writes them (`write_outbox` in the
import's transactions, `--per-transaction` events each: a StudentRegistered and a SchoolingOpened per student,
keyed by student_id, the service's real contracts and serialisation), then starts `aplypro-students run`
against the embedded broker and database (as `aplypro up` does) and times from its relay's election until the
outbox is empty and the topic holds N records. The relay's CPU is the service process's (the relay runs in it,
or in its child with APLYPRO_RELAY_PROCESS=true: children are counted).

Yardstick in the same run: a bare aiokafka producer (`make_producer`: the relay's linger and batch settings)
sends the same keys, payloads and headers to a topic of its own, every `send` future gathered at the end
(the broker's accept rate, with the client's own cost).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
CLK = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process and its live children (Linux /proc)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / CLK
    return total


def import_events(students: int, correlation_id: uuid.UUID) -> list[tuple[uuid.UUID, Any]]:
    """(student_id, event) in the order an import writes them: each student's identity, then its schooling."""
    from aplypro_contracts import Address, Establishment, Identity, Mef, SchoolingOpened, StudentRegistered

    establishment = Establishment(
        uai="9100001B", name="Lycée professionnel Jean Moulin", academy_code="14", address_lines=("12 rue de la Paix",),
        postal_code="91000", city_name="Évry-Courcouronnes", email="ce.9100001B@ac-versailles.fr",
        phone="0160000000", head_name="Dupont", city_insee="91228")
    mef = Mef(code="2473121131", dispositif="247", diploma="40025214", duration=3, year=3,
              label="TERMINALE PRO METIERS DE L'ELECTRICITE ET DE SES ENVIRONNEMENTS CONNECTES", ministry="MENJ")
    out: list[tuple[uuid.UUID, Any]] = []
    for n in range(students):
        student_id = uuid.uuid4()
        identity = Identity(ine=f"{300000000 + n:09d}AB", last_name=f"NOM{n}", first_names=("Prénom", "Second"),
                            birth_date=date(2007 + n % 2, 1 + n % 9, 10 + n % 10), sex="female" if n % 2 else "male",
                            birth_city_insee="91228", birth_country_insee="99100",
                            address=Address(lines=(f"{n % 90 + 1} rue des Lilas",), postal_code="91000",
                                            city_insee="91228", city_name="Évry-Courcouronnes"))
        out.append((student_id, StudentRegistered(producer="students", correlation_id=correlation_id,
                                                  student_id=student_id, identity=identity, version=1)))
        out.append((student_id, SchoolingOpened(
            producer="students", correlation_id=correlation_id, schooling_id=uuid.uuid4(), student_id=student_id,
            establishment=establishment, class_label=f"TLE PRO MELEC {n % 3}", school_year=2025, mef=mef,
            start_date=date(2025, 9, 1), end_date=date(2026, 7, 4), version=1)))
    return out


async def fill_outbox(url: str, schema: str, topic: str, events: int, per_transaction: int) -> list[Any]:
    """Migrate the schema and write the events as an import does; returns the outbox rows written."""
    from aplypro_servicekit.db import create_pool, migrate
    from aplypro_servicekit.outbox import event_row, write_outbox

    pool = await create_pool(url, schema, size=2)
    try:
        await migrate(pool, schema, ["aplypro_servicekit", "aplypro_students"])
        built = import_events((events + 1) // 2, uuid.uuid4())[:events]
        rows = [event_row(topic, sid, event) for sid, event in built]
        for start in range(0, len(rows), per_transaction):
            async with pool.acquire() as conn, conn.transaction():
                await write_outbox(conn, rows[start:start + per_transaction])
        return rows
    finally:
        await pool.close()


async def records_on(bootstrap: str, topic: str, expected: int) -> int:
    """Records on the topic, read from the start (Tansu's end offsets lag behind the last batch), until
    `expected` were read or nothing came for 3 s."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        read = 0
        while read < expected and (batch := await consumer.getmany(timeout_ms=3000, max_records=50_000)):
            read += sum(len(records) for records in batch.values())
        return read
    finally:
        await consumer.stop()


async def yardstick(bootstrap: str, topic: str, rows: list[Any]) -> float:
    """Seconds a bare producer (the relay's settings) takes to have every row acked by the broker."""
    from aplypro_servicekit.kafka import make_producer
    from aplypro_servicekit.relay import KAFKA_REQUEST_TIMEOUT_MS

    producer = make_producer(bootstrap, request_timeout_ms=KAFKA_REQUEST_TIMEOUT_MS)
    await producer.start()
    try:
        await producer.partitions_for(topic)
        started = time.perf_counter()
        futures = [await producer.send(topic, r.payload, key=r.key, headers=[(k, v.encode()) for k, v in r.headers.items()])
                   for r in rows]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def leader_epoch(conn: asyncpg.Connection, schema: str) -> int:
    return int(await conn.fetchval(f"SELECT epoch FROM {schema}.relay_leader"))


async def main(args: argparse.Namespace, workdir: Path) -> None:
    from aplypro_contracts.topics import STUDENTS_EVENTS
    from aplypro_local.stack import LocalStack
    from aplypro_servicekit.kafka import ensure_topics

    namespace = f"bench{uuid.uuid4().hex[:6]}."
    stack = LocalStack(workdir, extra_env={"APLYPRO_TOPIC_NAMESPACE": namespace, "APLYPRO_LOG_LEVEL": "WARNING"})
    try:
        stack.start_servers()
        env = stack.env
        url, bootstrap, schema = env["DATABASE_URL"], env["KAFKA_BOOTSTRAP_SERVERS"], f"{stack.schema_prefix}students"
        partitions = int(env.get("APLYPRO_TOPIC_PARTITIONS", "4"))
        topic, yard_topic = f"{namespace}{STUDENTS_EVENTS}", f"{namespace}bench.yardstick"
        await ensure_topics(bootstrap, [topic, yard_topic], partitions)
        filled = time.perf_counter()
        rows = await fill_outbox(url, schema, topic, args.events, args.per_transaction)
        fill_s = time.perf_counter() - filled
        payload_bytes = sum(len(r.payload) for r in rows) / len(rows)
        broker_pid = stack.kafka.process.pid if stack.kafka else 0  # none: an outside broker
        pid_file = workdir / "pgdata" / "postmaster.pid"  # the embedded PostgreSQL's; backends are its children
        database_pid = int(pid_file.read_text().split()[0]) if stack.postgres and pid_file.exists() else 0
        broker_cpu = tree_cpu_seconds(broker_pid) if broker_pid else 0.0
        yard_s = await yardstick(bootstrap, yard_topic, rows)
        yard_broker_cpu = (tree_cpu_seconds(broker_pid) - broker_cpu) if broker_pid else 0.0
        if (on_yard := await records_on(bootstrap, yard_topic, len(rows))) != len(rows):
            raise RuntimeError(f"yardstick: {on_yard} records on its topic, {len(rows)} sent")
        del rows

        load_before = os.getloadavg()
        conn = await asyncpg.connect(url)
        try:
            if args.py_spy:
                os.environ.update(env)  # py-spy starts the service with the stack's environment
                from aplypro_local.stack import service_command

                log = (workdir / "logs" / "students.log").open("ab")
                if (py_spy := shutil.which("py-spy")) is None:
                    raise RuntimeError("py-spy is not on PATH (uv tool install py-spy)")
                service = subprocess.Popen([py_spy, "record", "--idle", "--format", "raw", "--rate", "100",
                                            "--subprocesses", "-o", str(args.py_spy), "--",
                                            *service_command("students")], env=env, stdout=log, stderr=log)
            else:
                service = stack.start_service("students")
            started = time.perf_counter()
            while await leader_epoch(conn, schema) == 0:
                if service.poll() is not None:
                    raise RuntimeError(f"the students service exited ({service.returncode}): see {workdir}/logs")
                await asyncio.sleep(0.01)
            elected = time.perf_counter()
            cpu_pid = service.pid
            if args.py_spy:  # the service is py-spy's child
                cpu_pid = next(int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and
                               (p / "stat").exists() and
                               int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == service.pid)
            cpu_at_election = tree_cpu_seconds(cpu_pid)
            broker_cpu = tree_cpu_seconds(broker_pid) if broker_pid else 0.0
            database_cpu = tree_cpu_seconds(database_pid) if database_pid else 0.0
            while await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {schema}.outbox_batch)"):
                await asyncio.sleep(0.02)
            emptied = time.perf_counter()
            cpu = tree_cpu_seconds(cpu_pid) - cpu_at_election
            relay_broker_cpu = (tree_cpu_seconds(broker_pid) - broker_cpu) if broker_pid else 0.0
            relay_database_cpu = (tree_cpu_seconds(database_pid) - database_cpu) if database_pid else 0.0
            parked = await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox_parked")
        finally:
            await conn.close()
        load_after = os.getloadavg()
        # A row is deleted only once the broker acked its records: an empty outbox is every record on the topic.
        if (on_topic := await records_on(bootstrap, topic, args.events + 1)) != args.events - parked:
            raise RuntimeError(f"{on_topic} records on the topic, {args.events} written, {parked} parked")
        if args.py_spy:
            service.send_signal(signal.SIGINT)  # py-spy writes its file on an interrupt, then stops the service
            service.wait(60)

        relay_s = emptied - elected
        rate, yard_rate = args.events / relay_s, args.events / yard_s
        print(f"events={args.events} per_transaction={args.per_transaction} payload_bytes_avg={payload_bytes:.0f} "
              f"partitions={partitions} at={datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        print(f"relay_s={relay_s:.1f} (service start to election "
              f"{elected - started:.1f} s) on_topic={on_topic} parked={parked} fill_s={fill_s:.1f}")
        print(f"relay_events_per_s={rate:.0f} bare_producer_events_per_s={yard_rate:.0f} ratio={rate / yard_rate:.2f}")
        print(f"relay_cpu_ms_per_event={cpu * 1000 / args.events:.3f} (service process, election to empty outbox) "
              f"broker_cpu_ms_per_event relay={relay_broker_cpu * 1000 / args.events:.3f} "
              f"bare_producer={yard_broker_cpu * 1000 / args.events:.3f} "
              f"database_cpu_ms_per_event={relay_database_cpu * 1000 / args.events:.3f}")
        print(f"extrapolated_1.3M_events_s={1_300_000 / rate:.0f}")
        print(f"loadavg_before={load_before[0]:.2f} loadavg_after={load_after[0]:.2f} cpus={os.cpu_count()}")
    finally:
        stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--per-transaction", type=int, default=450,
                        help="events per outbox write (an establishment of ~225 students: 650,000 over 2,900)")
    parser.add_argument("--py-spy", type=Path, help="sample the service process with py-spy into this file")
    parser.add_argument("--workdir", type=Path, help="keep data and logs here instead of a temporary folder")
    arguments = parser.parse_args()
    if arguments.events < 1 or arguments.per_transaction < 1:
        sys.exit("--events and --per-transaction must be positive")
    if arguments.workdir:
        asyncio.run(main(arguments, arguments.workdir.resolve()))
    else:
        with tempfile.TemporaryDirectory(prefix="aplybench-") as tmp:
            asyncio.run(main(arguments, Path(tmp)))
