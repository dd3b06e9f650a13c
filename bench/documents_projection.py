"""Benchmark: the documents service's `decisions` consumer, before then after a fold, in one run.

    nice -n 19 uv run python bench/documents_projection.py --students 4000                 # a year, both modes
    nice -n 19 uv run python bench/documents_projection.py --students 4000 --mix import    # the import
    nice -n 19 uv run python bench/documents_projection.py --students 4000 --before per-event

`--mix year`: what the consumer reads over a year, stage by stage as a national run publishes it: each student's
StudentRegistered and SchoolingOpened (the import), SchoolingPriced (the calculator), RibRecorded (the RIB file),
then per PFMP (two a student) PfmpRecorded, PfmpValidated and the calculator's PaymentRequested: ten events a
student. `--mix import`: the import as the national bench publishes it, student by student: StudentRegistered,
StudentAddressChanged (the address file), SchoolingOpened, RibRecorded, and the calculator's SchoolingPriced a
little behind (25 students): five events a student, a third of the national run's documents load (issue 12).
`--stale` of the events are read twice (a replayed stretch: stale the second time, or a request already held).

The real consumer (servicekit's EventConsumer, two lanes, `--batch` records a poll) fed the records as the
broker hands them (only the broker is left out), on a fresh documents schema of one embedded PostgreSQL (or
DATABASE_URL) per mode: `after` with `projection_batch.batch_handler(handlers)` (this branch: the liquidation
inputs and the student and schooling states folded); `before` with `batch_handler(handlers, fold_states=False)`
(main before it: the student and schooling state events per event), or `--before per-event`
(`in_batch_order(handlers)`: every event per event). Prints events/s, this process's CPU seconds and
PostgreSQL's, and the ratios (bench/students_money_facts.py's measure).
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka.structs import ConsumerRecord
from aplypro_contracts import Envelope, PfmpState
from aplypro_contracts.examples import examples
from aplypro_contracts.registry import to_wire
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.entrypoints.service import build_spec
from aplypro_documents.service_layer import projection_batch
from aplypro_servicekit.consumer import BatchHandler, in_batch_order
from students_money_facts import bench_main, compare, consume

START = datetime(2025, 9, 1, 6, tzinfo=UTC)
PER_SCHOOL = 25
COUNTS = {"students": "SELECT count(*) FROM students", "addressed": "SELECT count(*) FROM students WHERE version = 2",
          "schoolings": "SELECT count(*) FROM schoolings", "ribs": "SELECT count(*) FROM ribs",
          "pfmps": "SELECT count(*) FROM pfmps WHERE validated_on IS NOT NULL",
          "requests": "SELECT count(*) FROM payment_requests",
          "queued": "SELECT count(*) FROM render_queue",
          "stale": "SELECT coalesce(sum(dropped), 0) FROM stale_events"}


def stream(students: int, stale: float, seed: int, mix: str) -> list[ConsumerRecord[bytes, bytes]]:
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
    if mix == "import":
        events = import_mix(people, event, identity, school)
    for student, schooling, uai, ine, _ in people if mix == "year" else []:
        events.append(event("StudentRegistered", student_id=student, version=1,
                            identity=identity.model_copy(update={"ine": ine, "last_name": f"NOM{ine[:6]}"})))
        events.append(event("SchoolingOpened", student_id=student, schooling_id=schooling, version=1,
                            establishment=school.model_copy(update={"uai": uai, "name": f"LP {uai}"}),
                            start_date=date(2025, 9, 1), end_date=None))
    events += [event("SchoolingPriced", student_id=s, schooling_id=sc) for s, sc, *_ in people if mix == "year"]
    events += [event("RibRecorded", student_id=s, establishment_uai=uai, rib_id=uuid.uuid4(), version=1)
               for s, _, uai, _, _ in people if mix == "year"]
    for stage, version in (("PfmpRecorded", 1), ("PfmpValidated", 2)):
        for student, schooling, _, _, pfmps in people if mix == "year" else []:
            for rank, pfmp in enumerate(pfmps, 1):
                start = date(2025, 10, 6) + timedelta(weeks=8 * rank)
                events.append(event(stage, pfmp=PfmpState(
                    pfmp_id=pfmp, schooling_id=schooling, student_id=student, start_date=start,
                    end_date=start + timedelta(days=18), day_count=15, status="validated" if version == 2 else
                    "completed", created_seq=rank, rank=rank, version=version)))
    events += [event("PaymentRequested", student_id=s, schooling_id=sc, pfmp_id=pfmp, pfmp_rank=rank,
                     payment_request_id=uuid.uuid4())
               for s, sc, _, _, pfmps in people if mix == "year" for rank, pfmp in enumerate(pfmps, 1)]
    replayed = [e.model_copy(update={"event_id": uuid.uuid4()}) for e in events if rng.random() < stale]
    records = []
    for offset, e in enumerate(events + replayed):
        body, headers = to_wire(e)
        key = str(getattr(e, "student_id", "")).encode()
        records.append(ConsumerRecord("students", 0, offset, 0, 0, key, body, None, 1, len(body),
                                      list(headers.items())))
    return records


def import_mix(people: list[Any], event: Callable[..., Envelope], identity: Any, school: Any) -> list[Envelope]:
    """Student by student: registered, their address corrected, their schooling opened, their RIB; the barème of
    each schooling 25 students later (the calculator reads the SchoolingOpened, then publishes)."""
    events: list[Envelope] = []
    priced: list[Envelope] = []
    for student, schooling, uai, ine, _ in people:
        registered = identity.model_copy(update={"ine": ine, "last_name": f"NOM{ine[:6]}"})
        events.append(event("StudentRegistered", student_id=student, version=1, identity=registered))
        events.append(event("StudentAddressChanged", student_id=student, version=2, changed=("address",),
                            identity=registered.model_copy(update={"address": identity.address.model_copy(
                                update={"lines": (f"{ine[:4]} rue de l'Essai",)})})))
        events.append(event("SchoolingOpened", student_id=student, schooling_id=schooling, version=1,
                            establishment=school.model_copy(update={"uai": uai, "name": f"LP {uai}"}),
                            start_date=date(2025, 9, 1), end_date=None))
        events.append(event("RibRecorded", student_id=student, establishment_uai=uai, rib_id=uuid.uuid4(),
                            version=1))
        priced.append(event("SchoolingPriced", student_id=student, schooling_id=schooling))
        if len(priced) > 25:
            events.append(priced.pop(0))
    return events + priced


async def run(url: str, args: argparse.Namespace) -> None:
    records = stream(args.students, args.stale, args.seed, args.mix)
    spec = build_spec(DocumentsSettings(APLYPRO_TOPIC_NAMESPACE="bench."))
    handlers = dict(next(s for s in spec.subscriptions if s.consumer_name == "decisions").handlers)
    print(f"students={args.students} mix={args.mix} before={args.before}")
    before = (in_batch_order(handlers) if args.before == "per-event"
              else projection_batch.batch_handler(handlers, fold_states=False))

    def mode(handler: BatchHandler) -> Callable[[], Awaitable[dict[str, float]]]:
        return lambda: consume(url, service="documents", name="decisions", handlers=handlers, batch_handler=handler,
                               records=records, batch=args.batch, counts=COUNTS)

    await compare(url, args, records, "documents",
                  {"before": mode(before), "after": mode(projection_batch.batch_handler(handlers))})


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mix", choices=["year", "import"], default="year")
    parser.add_argument("--before", choices=["main", "per-event"], default="main",
                        help="main: state events per event, the rest folded; per-event: every event per event")


def main() -> None:
    bench_main(__doc__, run, size="students", default=4000, stale_help="share of the events read a second time",
               options=options)


if __name__ == "__main__":
    main()
