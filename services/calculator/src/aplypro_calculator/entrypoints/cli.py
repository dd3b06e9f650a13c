"""`aplypro-calculator`: run the service, the barème of a MEF file, explanations, exclusions, parked and due
requests, over-cap repair."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar
from uuid import UUID

import asyncpg
import typer
from aplypro_servicekit.cli import run_service, service_pool

from aplypro_calculator.adapters import postgres_requests, postgres_views
from aplypro_calculator.config import CalculatorSettings
from aplypro_calculator.domain.exclusions import ExclusionConflict, ExclusionRow
from aplypro_calculator.domain.pool import euros
from aplypro_calculator.domain.requests import PARIS
from aplypro_calculator.entrypoints import explain_command, reason_words
from aplypro_calculator.entrypoints.bareme_command import run_bareme
from aplypro_calculator.entrypoints.service import build_handlers, build_spec
from aplypro_calculator.service_layer import evaluation, operations, repairs

app = typer.Typer(help="Calculator: the barème, PFMP amounts and payment requests.", no_args_is_help=True)
exclusions_app = typer.Typer(help="Establishments and (establishment, MEF) pairs outside the scheme.",
                             no_args_is_help=True)
app.add_typer(exclusions_app, name="exclusions")

T = TypeVar("T")


def _with_db(work: Callable[[asyncpg.Pool, CalculatorSettings], Awaitable[T]]) -> T:
    """Run `work` on the calculator's schema (migrated first), then close the pool."""

    async def go() -> T:
        settings = CalculatorSettings()
        async with service_pool(settings, "calculator", ["aplypro_calculator"], size=1) as (pool, _schema):
            return await work(pool, settings)

    return asyncio.run(go())


@app.command()
def run() -> None:
    """Run the service: consume schoolings, PFMPs and ASP returns; publish amounts and payment requests."""
    settings = CalculatorSettings()
    run_service(build_spec, settings)


@app.command()
def bareme(
    mef_file: Annotated[Path, typer.Argument(help="BCN MEF CSV file (comma separated).")],
    school_year: Annotated[str, typer.Option(help="2023-2024, 2024-2025 or 2025-2026.")],
) -> None:
    """Print `MEF,daily_rate,yearly_cap` for every row of a BCN MEF file; summary on stderr."""
    raise typer.Exit(run_bareme(school_year, mef_file, sys.stdout, sys.stderr))


@app.command()
def explain(pfmp_id: UUID) -> None:
    """Print how the amount of a PFMP was computed: inputs, barème and legal reference, pool state, steps."""

    async def work(pool: asyncpg.Pool, _: CalculatorSettings) -> list[str] | None:
        async with pool.acquire() as conn:
            found = await postgres_views.explanation(conn, pfmp_id)
            return None if found is None else explain_command.render(
                found, await postgres_requests.load_exclusions(conn))

    lines = _with_db(work)
    if lines is None:
        typer.echo(f"no PFMP {pfmp_id} is known to the calculator", err=True)
        raise typer.Exit(1)
    typer.echo("\n".join(lines))


@app.command()
def status() -> None:
    """Print amounts computed, their total, payment requests by state and, for each blocking reason, how many
    requests it holds back with what blocks and what to do, as JSON."""

    async def work(pool: asyncpg.Pool, _: CalculatorSettings) -> dict[str, object]:
        async with pool.acquire() as conn:
            totals = await postgres_views.totals(conn)
        return {**totals, "blocked_by_reason": reason_words.summary(totals["blocked_by_reason"])}

    typer.echo(json.dumps(_with_db(work), ensure_ascii=False))


@app.command("release-parked")
def release_parked() -> None:
    """Re-evaluate requests parked by negative_rectification (released when the switch is on)."""

    async def work(pool: asyncpg.Pool, settings: CalculatorSettings) -> operations.Released:
        async with pool.acquire() as conn, conn.transaction():
            return await operations.release_parked(conn, build_handlers(settings))

    if not CalculatorSettings().negative_rectifications_enabled:
        typer.echo("negative rectifications are switched off "
                   "(APLYPRO_CALCULATOR_NEGATIVE_RECTIFICATIONS_ENABLED): parked requests stay parked", err=True)
    released = _with_db(work)
    typer.echo(f"pools re-evaluated: {released.pools}; events written: {released.events}; "
               f"still parked or blocked by negative_rectification: {released.still_parked}")


@app.command("repair-over-cap")
def repair_over_cap(
    confirm: Annotated[bool, typer.Option(
        "--confirm", help="Apply the plan: each reduction becomes a system rectification (a recovery, parked while "
        "negative rectifications are off). Default: a dry run that changes nothing.")] = False,
) -> None:
    """List pools where the committed amounts exceed the cap and the plan that repairs them (calculation.md §5.6)."""

    async def work(pool: asyncpg.Pool, settings: CalculatorSettings) -> repairs.OverCapRepair:
        async with pool.acquire() as conn, conn.transaction():
            return await repairs.repair_over_cap(conn, build_handlers(settings), confirm=confirm)

    done = _with_db(work)
    typer.echo(f"over-cap pools: {len(done.pools)}; planned reductions: {done.reductions}")
    for repair in done.pools:
        (student_id, mef_code, year), plan = repair.key, repair.plan
        # Internal ids and amounts only: never a name or an IBAN.
        typer.echo(f"student {student_id} MEF {mef_code} school year {year}-{year + 1}: cap {euros(plan.cap_cents)}, "
                   f"committed {euros(plan.committed_cents)}, excess {euros(plan.excess_cents)}")
        for step in plan.steps[1:]:
            typer.echo(f"  plan: {step}")
        for computed in repair.applied:
            note = (" (parked: negative_rectification)" if computed.parked
                    else f" ({computed.refusal_code})" if computed.refusal_code else "")
            typer.echo(f"  applied: PFMP {computed.pfmp_id} {computed.outcome} {euros(computed.base_cents)} → "
                       f"{euros(computed.new_cents)}{note}; request {computed.payment_request_id}")
    if done.confirmed:
        typer.echo(f"applied: rectifications {sum(len(p.applied) for p in done.pools)}; events written: {done.events}")
    else:
        typer.echo("dry run: nothing changed (--confirm applies the plan)")


def parse_now(value: str | None) -> datetime:
    """ISO 8601; without an offset the time is Europe/Paris time; none given: the current time."""
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 date-time: {value!r}", param_hint="--now") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=PARIS)


@app.command("evaluate-due")
def evaluate_due(
    now: Annotated[str | None, typer.Option(
        "--now", help="Evaluate what is due at this time (ISO 8601, e.g. 2026-03-11T00:00; without an offset: "
        "Europe/Paris time). Default: now.")] = None,
) -> None:
    """One pass of the evaluator: requests whose cool-down has passed (lifecycles.md §5) become ready or blocked."""
    at = parse_now(now)

    async def work(pool: asyncpg.Pool, settings: CalculatorSettings) -> evaluation.Evaluated:
        return await evaluation.evaluate_due(pool, build_handlers(settings), now=at,
                                             batch_size=settings.evaluation_batch_size)

    done = _with_db(work)
    typer.echo(f"due at {at.isoformat()}: requests evaluated: {done.requests} (ready {done.ready}, "
               f"blocked {done.blocked}); pools: {done.pools}; events written: {done.events}; "
               f"left for the next pass (pool busy): {done.skipped}")


UaiArg = Annotated[str, typer.Argument(help="Establishment UAI (7 digits and a letter).")]
MefOpt = Annotated[str | None, typer.Option("--mef", help="Only this MEF code (default: whole establishment).")]
YearOpt = Annotated[int | None, typer.Option("--school-year", help="Only this start year, e.g. 2025 (default: all).")]


def _change(add: bool, uai: str, mef: str | None, school_year: int | None) -> None:
    row = ExclusionRow.of(uai, mef, school_year)

    async def work(pool: asyncpg.Pool, settings: CalculatorSettings) -> operations.Repriced:
        change = operations.add_exclusion if add else operations.remove_exclusion
        async with pool.acquire() as conn, conn.transaction():
            return await change(conn, build_handlers(settings), row)

    try:
        result = _with_db(work)
    except ExclusionConflict as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    what = f"{row.uai} MEF {row.mef or 'all'} school year {row.school_year or 'all'}"
    if not result.changed:
        typer.echo(f"nothing to do: {what} is {'already' if add else 'not'} excluded", err=True)
        raise typer.Exit(0 if add else 1)
    typer.echo(f"{'added' if add else 'removed'}: {what}; pools repriced: {result.pools}; "
               f"events written: {result.events}")


@exclusions_app.command("add")
def exclusions_add(uai: UaiArg, mef: MefOpt = None, school_year: YearOpt = None) -> None:
    """Exclude an establishment (or one of its MEFs, or one year); reprice the pools it reaches."""
    _change(True, uai, mef, school_year)


@exclusions_app.command("remove")
def exclusions_remove(uai: UaiArg, mef: MefOpt = None, school_year: YearOpt = None) -> None:
    """Lift exactly this exclusion row; the PFMPs it held back are priced again."""
    _change(False, uai, mef, school_year)


@exclusions_app.command("list")
def exclusions_list() -> None:
    """Print `UAI,MEF,school_year,schoolings` for every exclusion row (empty = all)."""

    async def work(pool: asyncpg.Pool, _: CalculatorSettings) -> list[dict[str, object]]:
        async with pool.acquire() as conn:
            return await postgres_views.exclusions(conn)

    typer.echo("uai,mef,school_year,schoolings")
    for r in _with_db(work):
        typer.echo(f"{r['uai']},{r['mef_code'] or ''},{r['school_year'] or ''},{r['schoolings']}")


def main() -> None:
    app()
