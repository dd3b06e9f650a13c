"""`aplypro-calculator explain PFMP_ID`: inputs, barème with its legal reference, pool state and steps."""

from __future__ import annotations

from typing import Any

from aplypro_calculator.adapters import postgres
from aplypro_calculator.domain.exclusions import Exclusions
from aplypro_calculator.domain.pool import allocate, euros
from aplypro_calculator.domain.requests import PARIS
from aplypro_calculator.entrypoints import reason_words


def _money(cents: int | None) -> str:
    return "none" if cents is None else euros(cents)


def render(found: dict[str, Any], exclusions: Exclusions) -> list[str]:
    """The lines printed for one PFMP (its pool recomputed from the current facts, read-only)."""
    mef, year = found["mef"], found["school_year"]
    excluded = exclusions.excluded(found["uai"], found["mef_code"], year)
    calendar_days = (found["end_date"] - found["start_date"]).days + 1
    lines = [
        f"PFMP {found['pfmp_id']}",
        "inputs:",
        f"  status: {found['status']}" + (" (deleted)" if found["deleted"] else ""),
        f"  dates: {found['start_date']} to {found['end_date']} ({calendar_days} calendar days)",
        f"  day count: {found['day_count'] if found['day_count'] is not None else 'none'}",
        f"  schooling: {found['schooling_id']} at {found['uai']}, school year {year}-{year + 1}",
        f"  MEF: {found['mef_code']} {mef.get('label', '')} (ministry {mef.get('ministry')}, "
        f"dispositif {mef.get('dispositif')}, year {mef.get('year')})",
        f"  excluded schooling: {'yes' if excluded else 'no'}",
        "barème:",
    ]
    if found["daily_rate_cents"] is None:
        lines.append(f"  unpriced: {found['unpriced_reason']} (mef_without_bareme)")
    else:
        lines += [f"  daily rate: {euros(found['daily_rate_cents'])}",
                  f"  yearly cap: {euros(found['yearly_cap_cents'])}",
                  f"  legal reference: {found['legal_reference']}"]
    lines += _pool(found, exclusions)
    lines += [f"amount: {_money(found['amount_cents'])}", "steps:"]
    lines += [f"  - {step}" for step in found["explanation"]]
    lines.append("payment requests:" if found["requests"] else "payment requests: none")
    for r in found["requests"]:
        detail = [r["kind"], r["state"], _money(r["amount_cents"])]
        if r["state"] == "pending" and not r["reasons"] and r["due_at"] is not None:
            detail.append(f"not evaluated yet, due {r['due_at'].astimezone(PARIS):%Y-%m-%d %H:%M} Europe/Paris")
        if r["base_cents"] is not None:
            detail.append(f"base {euros(r['base_cents'])}")
        if r["reasons"]:
            detail.append("reasons " + ", ".join(r["reasons"]))
        if r["asp_reasons"]:
            detail.append("ASP " + ", ".join(r["asp_reasons"]))
        if r["paid_amount"] is not None:
            detail.append(f"MTNET {r['paid_amount']}" + (" MISMATCH" if r["paid_mismatch"] else ""))
        if r["recovery"]:
            detail.append("recovery order")
        held = r["state"] == "ready" and bool(r["gateway_reasons"])  # handed over, held back by the gateway
        if held:
            detail.append("held by the asp-gateway: " + ", ".join(r["gateway_reasons"]))
        lines.append(f"  - {r['payment_request_id']}: " + "; ".join(detail))
        lines += reason_words.lines(_keys(r) + (list(r["gateway_reasons"]) if held else []))
    return lines


def _keys(request: dict[str, Any]) -> list[str]:
    """What holds the request back, in words: its reasons, or its cool-down when it was never evaluated."""
    if request["state"] == "pending" and not request["reasons"] and request["due_at"] is not None:
        return [reason_words.AWAITING]
    return list(request["reasons"] or ())


def _pool(found: dict[str, Any], exclusions: Exclusions) -> list[str]:
    year = found["school_year"]
    header = f"pool (student {found['student_id']}, MEF {found['mef_code']}, {year}-{year + 1}):"
    rows = found["pool"]
    if found["daily_rate_cents"] is None:
        return [header, f"  {len(rows)} PFMP(s), none priced"]
    pfmps = [postgres.to_pool_pfmp(r, excluded=exclusions.excluded(r["uai"], r["mef_code"], r["school_year"]))
             for r in rows]
    result = allocate(found["daily_rate_cents"], found["yearly_cap_cents"], pfmps)
    lines = [header,
             f"  cap {euros(result.cap_cents)}, committed {euros(result.committed_cents)}, "
             f"total {euros(result.total_cents)}, left {euros(result.remaining_cents)}, "
             f"cap reached: {'yes' if result.cap_reached else 'no'}, "
             f"over cap: {'yes (operator repair)' if result.over_cap else 'no'}"]
    by_id = {str(r["pfmp_id"]): r for r in rows}
    for a in result.allocations:  # in allocation order
        r = by_id[a.pfmp_id]
        mark = "  <- this PFMP" if r["pfmp_id"] == found["pfmp_id"] else ""
        lines.append(f"  {a.klass:<10} {a.pfmp_id} {r['start_date']} {r['day_count']} days "
                     f"{_money(a.amount_cents)} request {r['request_state'] or 'none'}{mark}")
    return lines
