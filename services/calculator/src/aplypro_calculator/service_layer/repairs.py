"""Over-cap repair, the operator command of calculation.md §5.6.

A pool is over cap when Σ committed > cap (a barème lowered after payment, legacy data, old races). The
plan (domain.rectification.plan_over_cap_repair) takes the paid PFMPs largest first and reduces each by
min(remaining excess, its paid amount) until the excess is 30 € or less. Applying it makes each reduction a
system rectification through the service's own path (rectifications.apply_rectification): a recovery,
parked while negative rectifications are off (§5.4). Everything runs in the caller's transaction, and the
events go to the outbox.

How a planned total becomes PFMP facts: a reduction to 0 is a full cancellation (day count 0, as in a DA
withdrawal); a partial one keeps the PFMP's day count and dates, and the cap gives the new total, since the
PFMP is then priced in class 2 after the committed ones (§3.3). Zeroed PFMPs at 0 days hold nothing, so the
partial one gets exactly what the plan left for it, whatever the chronological order of the two. Keeping
its days, it can get no more than day count × rate: the plan takes that ceiling into account (a rate lowered
after payment), and a total that still differs from the plan rolls the whole repair back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aplypro_contracts import PfmpRectified, PfmpState, RectificationComputed
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import OutboxRow, event_row, write_outbox

from aplypro_calculator.adapters import postgres, postgres_repairs, postgres_requests
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.domain.pool import allocate
from aplypro_calculator.domain.rectification import PaidPfmp, RepairPlan, plan_over_cap_repair
from aplypro_calculator.service_layer.events import PRODUCER, Cause
from aplypro_calculator.service_layer.handlers import Handlers
from aplypro_calculator.service_layer.pools import pool_key
from aplypro_calculator.service_layer.rectifications import apply_rectification

REPAIR_ACTOR = "operator:repair-over-cap"  # requested_by of the rectifications: a process, never a name


@dataclass(frozen=True)
class PoolRepair:
    key: PoolKey  # (student id, MEF code, school year)
    plan: RepairPlan
    applied: list[RectificationComputed] = field(default_factory=list)  # empty in a dry run


@dataclass(frozen=True)
class OverCapRepair:
    pools: list[PoolRepair]
    confirmed: bool
    events: int  # events written to the outbox (0 in a dry run)

    @property
    def reductions(self) -> int:
        return sum(len(p.plan.reductions) for p in self.pools)


class RepairPlanMismatch(RuntimeError):
    """A rectification gave another total than the plan printed: the whole repair is rolled back, never
    applied differently from what the operator read (calculation.md §5.6)."""

    code = "repair_plan_mismatch"


def _paid(row: dict[str, Any]) -> PaidPfmp:
    # The ceiling: the rectification keeps the PFMP's days, priced at the pool's current rate.
    return PaidPfmp(str(row["pfmp_id"]), row["request_amount_cents"], row["start_date"], row["end_date"],
                    row["created_seq"], ceiling_cents=(row["day_count"] or 0) * row["daily_rate_cents"])


async def repair_over_cap(conn: Connection, handlers: Handlers, *, confirm: bool,
                          requested_by: str = REPAIR_ACTOR) -> OverCapRepair:
    """List over-cap pools with their plan; with `confirm`, apply every planned reduction."""
    keys = await postgres_repairs.over_cap_pools(conn)
    by_pool: dict[PoolKey, list[dict[str, Any]]] = defaultdict(list)
    for row in await postgres.pool_rows(conn, keys):  # locked: the plan stays true until the commit
        by_pool[pool_key(row)].append(row)
    exclusions = await postgres_requests.load_exclusions(conn)
    command = Cause.command()  # one flow for the whole repair
    repairs: list[PoolRepair] = []
    causes: dict[PoolKey, Cause] = {}
    out: list[OutboxRow] = []
    for key in keys:
        rows = by_pool[key]
        excluded = {r["pfmp_id"]: exclusions.excluded(r["uai"], r["mef_code"], r["school_year"]) for r in rows}
        pool = allocate(rows[0]["daily_rate_cents"], rows[0]["yearly_cap_cents"],
                        [postgres.to_pool_pfmp(r, excluded=excluded[r["pfmp_id"]]) for r in rows])
        if not pool.over_cap:
            continue
        # Only PFMPs whose latest request is paid can be rectified (§5.1); an excluded one cannot be priced.
        paid = [r for r in rows if r["request_state"] == "paid" and not r["deleted"] and not excluded[r["pfmp_id"]]]
        plan = plan_over_cap_repair(pool.cap_cents, [_paid(r) for r in paid], committed_cents=pool.committed_cents,
                                    negative_enabled=handlers.negative_rectifications_enabled)
        applied: list[RectificationComputed] = []
        if confirm:
            by_id = {str(r["pfmp_id"]): r for r in paid}
            for reduction in plan.reductions:
                row = by_id[reduction.pfmp_id]
                event = _rectified(row, 0 if reduction.outcome.new_cents == 0 else row["day_count"], command,
                                   requested_by)
                computed = await apply_rectification(conn, event, causes,
                                                     negative_enabled=handlers.negative_rectifications_enabled)
                if computed.new_cents != reduction.outcome.new_cents:  # the plan is what is applied
                    raise RepairPlanMismatch(f"PFMP {reduction.pfmp_id}: planned {reduction.outcome.new_cents}, "
                                             f"computed {computed.new_cents} (cents)")
                applied.append(computed)
                out.append(event_row(handlers.topic, key[0], computed))
        repairs.append(PoolRepair(key, plan, applied))
    if confirm:
        # One recomputation per pool once all its reductions are recorded: no intermediate state is published.
        out += await handlers.recompute_pools(conn, causes)
        await write_outbox(conn, out)
    return OverCapRepair(repairs, confirm, len(out))


def _rectified(row: dict[str, Any], day_count: int, command: Cause, requested_by: str) -> PfmpRectified:
    """The rectification the operator makes, as the service receives one (never published: the calculator
    does not write on the pfmp topic; RectificationComputed says what happened)."""
    pfmp = PfmpState(pfmp_id=row["pfmp_id"], schooling_id=row["schooling_id"], student_id=row["student_id"],
                     start_date=row["start_date"], end_date=row["end_date"], day_count=day_count,
                     status="rectified", created_seq=row["created_seq"], rank=row["rank"],
                     version=row["version"])  # the calculator's own correction: pfmp's version is unchanged
    return PfmpRectified(producer=PRODUCER, correlation_id=command.correlation_id, causation_id=command.event_id,
                         pfmp=pfmp, initiated_by="system", requested_by=requested_by)
