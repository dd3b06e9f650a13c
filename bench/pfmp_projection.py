"""Benchmark: pfmp's `students-projection` consumer at a national import, per event then folded, in one run.

    nice -n 19 uv run python bench/pfmp_projection.py --students 20000            # both, before then after
    nice -n 19 uv run python bench/pfmp_projection.py --students 20000 --mode after

What the students service publishes on its topic as a national import runs (bench/national.py's import stage):
the directory (EstablishmentRegistered, one an establishment, 25 students each), then establishment by
establishment each student's StudentRegistered and SchoolingOpened; then the detail backfill's
StudentAddressChanged (version 2: the address SYGNE's detail call brings); then each student's RibStatusChanged
(the RIB file). `--stale` of the state events are read twice (a replayed stretch: stale the second time).

The real consumer (servicekit's EventConsumer, two lanes, `--batch` records a poll) fed the records as the
broker hands them (only the broker is left out), on a fresh pfmp schema of one embedded PostgreSQL (or
DATABASE_URL) per mode: `before` with `in_batch_order(handlers)` (main), `after` with
`projection_batch.batch_handler(handlers)`. Prints events/s, this process's CPU seconds and PostgreSQL's, and
the ratios (bench/students_money_facts.py's measure).
"""

from __future__ import annotations

import argparse
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka.structs import ConsumerRecord
from aplypro_contracts import Address, Envelope
from aplypro_contracts.examples import examples
from aplypro_contracts.registry import to_wire
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.entrypoints.service import build_spec
from aplypro_pfmp.service_layer import projection_batch
from students_money_facts import before_and_after, bench_main

START = datetime(2025, 9, 1, 6, tzinfo=UTC)
PER_SCHOOL = 25
COUNTS = {"students": "SELECT count(*) FROM students", "schoolings": "SELECT count(*) FROM schoolings",
          "establishments": "SELECT count(*) FROM establishments", "ribs": "SELECT count(*) FROM ribs_on_file",
          "stale": "SELECT coalesce(sum(dropped), 0) FROM stale_events"}


def stream(students: int, stale: float, seed: int) -> list[ConsumerRecord[bytes, bytes]]:
    rng = random.Random(seed)
    template = {e.event_type: e for e in examples()}
    at = iter(START + timedelta(milliseconds=n) for n in range(10**9))

    def event(event_type: str, **update: Any) -> Envelope:
        return template[event_type].model_copy(update={"event_id": uuid.uuid4(), "occurred_at": next(at), **update})

    identity = template["StudentRegistered"].identity  # type: ignore[attr-defined]
    school = template["SchoolingOpened"].establishment  # type: ignore[attr-defined]
    uais = [f"{9_000_000 + n:07d}{'ABCDEFGHJK'[n % 10]}" for n in range(students // PER_SCHOOL + 1)]
    people = [(uuid.uuid4(), uuid.uuid4(), uais[n // PER_SCHOOL], f"{n:09d}AB") for n in range(students)]
    events: list[Envelope] = [event("EstablishmentRegistered", uai=uai, name=f"LP {uai}") for uai in uais]
    for student, schooling, uai, ine in people:
        events.append(event("StudentRegistered", student_id=student, version=1,
                            identity=identity.model_copy(update={"ine": ine, "last_name": f"NOM{ine[:6]}"})))
        events.append(event("SchoolingOpened", student_id=student, schooling_id=schooling, version=1,
                            establishment=school.model_copy(update={"uai": uai, "name": f"LP {uai}"}),
                            start_date=date(2025, 9, 1)))
    address = Address(lines=("3 rue des Lilas",), postal_code="35000", city_insee="35238", city_name="Rennes")
    for student, _, _, ine in people:
        events.append(event("StudentAddressChanged", student_id=student, version=2, changed=("address",),
                            identity=identity.model_copy(update={"ine": ine, "last_name": f"NOM{ine[:6]}",
                                                                 "address": address})))
    for student, _, uai, _ in people:
        events.append(event("RibStatusChanged", student_id=student, establishment_uai=uai, version=1))
    replayed = [e.model_copy(update={"event_id": uuid.uuid4()}) for e in events if rng.random() < stale]
    records = []
    for offset, e in enumerate(events + replayed):
        body, headers = to_wire(e)
        key = str(getattr(e, "student_id", getattr(e, "uai", ""))).encode()
        records.append(ConsumerRecord("students", 0, offset, 0, 0, key, body, None, 1, len(body),
                                      list(headers.items())))
    return records


async def run(url: str, args: argparse.Namespace) -> None:
    records = stream(args.students, args.stale, args.seed)
    spec = build_spec(PfmpSettings(APLYPRO_TOPIC_NAMESPACE="bench."))
    handlers = dict(next(s for s in spec.subscriptions if s.consumer_name == "students-projection").handlers)
    print(f"students={args.students}")
    await before_and_after(url, args, records, service="pfmp", name="students-projection", handlers=handlers,
                           after=projection_batch.batch_handler(handlers), counts=COUNTS)


def main() -> None:
    bench_main(__doc__, run, size="students", default=20000, stale_help="share of the events read a second time")


if __name__ == "__main__":
    main()
