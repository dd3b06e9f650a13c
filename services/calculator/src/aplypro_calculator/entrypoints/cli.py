"""`aplypro-calculator`: run the service, print the barème of a MEF file, explain an amount."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from aplypro_servicekit.cli import run_service
from aplypro_servicekit.db import create_pool, migrate

from aplypro_calculator.adapters import postgres
from aplypro_calculator.config import CalculatorSettings
from aplypro_calculator.entrypoints.bareme_command import run_bareme
from aplypro_calculator.entrypoints.service import build_spec

app = typer.Typer(help="Calculator: the barème, PFMP amounts and payment requests.", no_args_is_help=True)


@app.command()
def run() -> None:
    """Run the service: consume schoolings and PFMPs, publish amounts and payment requests."""
    settings = CalculatorSettings()
    run_service(build_spec(settings), settings)


@app.command()
def bareme(
    mef_file: Annotated[Path, typer.Argument(help="BCN MEF CSV file (comma separated).")],
    school_year: Annotated[str, typer.Option(help="2023-2024, 2024-2025 or 2025-2026.")],
) -> None:
    """Print `MEF,daily_rate,yearly_cap` for every row of a BCN MEF file; summary on stderr."""
    raise typer.Exit(run_bareme(school_year, mef_file, sys.stdout, sys.stderr))


@app.command()
def explain(pfmp_id: UUID) -> None:
    """Print how the amount of a PFMP was computed: inputs, parameters and their legal reference, steps."""

    async def go() -> dict[str, object] | None:
        settings = CalculatorSettings()
        schema = settings.db_schema("calculator")
        pool = await create_pool(settings.database_url, schema, size=1)
        try:
            await migrate(pool, schema, ["aplypro_servicekit", "aplypro_calculator"])
            async with pool.acquire() as conn:
                return await postgres.explanation(conn, pfmp_id)
        finally:
            await pool.close()

    found = asyncio.run(go())
    if found is None:
        typer.echo(f"no PFMP {pfmp_id} is known to the calculator", err=True)
        raise typer.Exit(1)
    for key in ("pfmp_id", "status", "start_date", "end_date", "day_count", "mef_code", "school_year",
                "daily_rate_cents", "yearly_cap_cents", "legal_reference", "unpriced_reason", "amount_cents"):
        typer.echo(f"{key}: {found[key]}")
    typer.echo("steps:")
    for step in found["explanation"]:  # type: ignore[attr-defined]
        typer.echo(f"  - {step}")


@app.command()
def status() -> None:
    """Print amounts computed, their total and payment requests, as JSON."""
    import json

    async def go() -> dict[str, int]:
        settings = CalculatorSettings()
        schema = settings.db_schema("calculator")
        pool = await create_pool(settings.database_url, schema, size=1)
        try:
            await migrate(pool, schema, ["aplypro_servicekit", "aplypro_calculator"])
            async with pool.acquire() as conn:
                return await postgres.totals(conn)
        finally:
            await pool.close()

    typer.echo(json.dumps(asyncio.run(go())))


def main() -> None:
    app()
