"""Benchmark: the documents service's `decisions` consumer over a national year, per event then folded, in one run.

    nice -n 19 uv run python bench/documents_projection.py --students 4000            # both, before then after
    nice -n 19 uv run python bench/documents_projection.py --students 4000 --mode after

What the consumer reads over a year, stage by stage as a national run publishes it: each student's
StudentRegistered and SchoolingOpened (the import), SchoolingPriced (the calculator), RibRecorded (the RIB file),
then per PFMP (two a student) PfmpRecorded, PfmpValidated and the calculator's PaymentRequested: ten events a
student, seven of them the état liquidatif's inputs that `projection_batch` folds. `--stale` of the events are
read twice (a replayed stretch: stale the second time, or a request already held).

The real consumer (servicekit's EventConsumer, two lanes, `--batch` records a poll) fed the records as the
broker hands them (only the broker is left out), on a fresh documents schema of one embedded PostgreSQL (or
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
from aplypro_contracts import Envelope, PfmpState
from aplypro_contracts.examples import examples
from aplypro_contracts.registry import to_wire
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.entrypoints.service import build_spec
from aplypro_documents.service_layer import projection_batch
from students_money_facts import before_and_after, bench_main

START = datetime(2025, 9, 1, 6, tzinfo=UTC)
PER_SCHOOL = 25
COUNTS = {"schoolings": "SELECT count(*) FROM schoolings", "ribs": "SELECT count(*) FROM ribs",
          "pfmps": "SELECT count(*) FROM pfmps WHERE validated_on IS NOT NULL",
          "requests": "SELECT count(*) FROM payment_requests",
          "queued": "SELECT count(*) FROM render_queue",
          "stale": "SELECT coalesce(sum(dropped), 0) FROM stale_events"}


def stream(students: int, stale: float, seed: int) -> list[ConsumerRecord[bytes, bytes]]:
    rng = random.Random(seed)
    template = {e.event_type: e for e in examples()}
    at = iter(START + timedelta(seconds=n) for n in range(10**9))

    def event(event_type: str, **update: Any) -> Envelope:
        return template[event_type].model_copy(update={"event_id": uuid.uuid4(), "occurred_at": next(at), **update})

    identity = template["StudentRegistered"].identity  # type: ignore[attr-defined]
    school = template["SchoolingOpened"].establishment  # type: ignore[attr-defined]
    uais = [f"{9_000_000 + n:07d}{'ABCDEFGHJK'[n % 10]}" for n in range(students // PER_SCHOOL + 1)]
    people = [(uuid.uuid4(), uuid.uuid4(), uais[n // PER_SCHOOL], f"{n:09d}AB", [uuid.uuid4(), uuid.uuid4()])
              for n in range(students)]
    events: list[Envelope] = []
    for student, schooling, uai, ine, _ in people:
        events.append(event("StudentRegistered", student_id=student, version=1,
                            identity=identity.model_copy(update={"ine": ine, "last_name": f"NOM{ine[:6]}"})))
        events.append(event("SchoolingOpened", student_id=student, schooling_id=schooling, version=1,
                            establishment=school.model_copy(update={"uai": uai, "name": f"LP {uai}"}),
                            start_date=date(2025, 9, 1), end_date=None))
    events += [event("SchoolingPriced", student_id=s, schooling_id=sc) for s, sc, *_ in people]
    events += [event("RibRecorded", student_id=s, establishment_uai=uai, rib_id=uuid.uuid4(), version=1)
               for s, _, uai, _, _ in people]
    for stage, version in (("PfmpRecorded", 1), ("PfmpValidated", 2)):
        for student, schooling, _, _, pfmps in people:
            for rank, pfmp in enumerate(pfmps, 1):
                start = date(2025, 10, 6) + timedelta(weeks=8 * rank)
                events.append(event(stage, pfmp=PfmpState(
                    pfmp_id=pfmp, schooling_id=schooling, student_id=student, start_date=start,
                    end_date=start + timedelta(days=18), day_count=15, status="validated" if version == 2 else
                    "completed", created_seq=rank, rank=rank, version=version)))
    events += [event("PaymentRequested", student_id=s, schooling_id=sc, pfmp_id=pfmp, pfmp_rank=rank,
                     payment_request_id=uuid.uuid4())
               for s, sc, _, _, pfmps in people for rank, pfmp in enumerate(pfmps, 1)]
    replayed = [e.model_copy(update={"event_id": uuid.uuid4()}) for e in events if rng.random() < stale]
    records = []
    for offset, e in enumerate(events + replayed):
        body, headers = to_wire(e)
        key = str(getattr(e, "student_id", "")).encode()
        records.append(ConsumerRecord("students", 0, offset, 0, 0, key, body, None, 1, len(body),
                                      list(headers.items())))
    return records


async def run(url: str, args: argparse.Namespace) -> None:
    records = stream(args.students, args.stale, args.seed)
    spec = build_spec(DocumentsSettings(APLYPRO_TOPIC_NAMESPACE="bench."))
    handlers = dict(next(s for s in spec.subscriptions if s.consumer_name == "decisions").handlers)
    print(f"students={args.students}")
    await before_and_after(url, args, records, service="documents", name="decisions", handlers=handlers,
                           after=projection_batch.batch_handler(handlers), counts=COUNTS)


def main() -> None:
    bench_main(__doc__, run, size="students", default=4000, stale_help="share of the events read a second time")


if __name__ == "__main__":
    main()
