"""`aplypro-asp-gateway`: run the service, build one payment file now, send an address-correction file, print
the requests' status."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
import typer
from aplypro_contracts.reasons import describe
from aplypro_servicekit.cli import run_service, service_pool
from aplypro_servicekit.logs import configure_logging

from aplypro_asp_gateway.adapters import merges_repo, requests_repo, returns_repo, send_repo
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.entrypoints import demo_file
from aplypro_asp_gateway.entrypoints.send import json_lines, send_now
from aplypro_asp_gateway.entrypoints.service import SCHEMA, build_options, build_spec
from aplypro_asp_gateway.service_layer.build import build_payment_file

T = TypeVar("T")

app = typer.Typer(help="ASP gateway: payment files for the Agence de services et de paiement.",
                  no_args_is_help=True)


@app.command()
def run() -> None:
    """Run the service: consume students, RIB and calculator events; build payment files."""
    settings = AspSettings()
    run_service(build_spec, settings)


def _with_pool(settings: AspSettings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    async def go() -> T:
        async with service_pool(settings, SCHEMA, ["aplypro_asp_gateway"]) as (pool, _):
            return await work(pool)

    return asyncio.run(go())


@app.command("build-file")
def build_file() -> None:
    """Build one payment file now from the ready requests (the events go out with the service's relay); on a send
    day inside the send window only (`skipped` says why not)."""
    settings = AspSettings()
    configure_logging("asp-gateway", settings.log_level, settings.log_json)
    result = _with_pool(settings, lambda pool: build_payment_file(pool, build_options(settings)))
    sys.stdout.write(json.dumps({"file": result.file_name, "records": result.records,
                                 "blocked": result.blocked, "written": result.written,
                                 "skipped": result.skipped}) + "\n")


@app.command()
def send() -> None:
    """One exchange now: build what is ready, upload every file not yet sent; one JSON line per file."""
    settings = AspSettings()
    configure_logging("asp-gateway", settings.log_level, settings.log_json)
    sys.stdout.write(json_lines(_with_pool(settings, lambda pool: send_now(pool, settings))))


@app.command()
def status() -> None:
    """Print counts as JSON: pending, blocked by reason (with each reason in plain words under `why`), ready
    (in a built file, upload not recorded), sent, sent after a retrait, answers and payments overdue (G5),
    files, requests per state, the last files sent and the last return files received."""
    settings = AspSettings()

    async def read(pool: asyncpg.Pool) -> dict[str, Any]:
        async with pool.acquire() as conn:
            return {**await requests_repo.status(conn), **await send_repo.status(conn),
                    **await returns_repo.status(conn), **await merges_repo.status(conn)}

    status = _with_pool(settings, read)
    shown = [*status["blocked"], *(["sent_after_withdrawal"] if status["sent_after_withdrawal"] else [])]
    status["why"] = {key: describe(key).line() for key in shown}
    sys.stdout.write(json.dumps(status, ensure_ascii=False) + "\n")


@app.command()
def poll() -> None:
    """Fetch and ingest every new ASP return file now: one JSON line per file (matched, unmatched, refused)."""
    from aplypro_asp_gateway.entrypoints.poll import poll as poll_now
    from aplypro_asp_gateway.entrypoints.poll import print_results

    settings = AspSettings()
    configure_logging("asp-gateway", settings.log_level, settings.log_json)
    print_results(_with_pool(settings, lambda pool: poll_now(pool, settings)), sys.stdout)


@app.command("read-return")
def read_return_command(file: Path) -> None:
    """Parse one ASP return file offline: one JSON line per line read; exit 2 if the file cannot be read."""
    from aplypro_asp_gateway.entrypoints.read_return import read_return  # offline: no service wiring

    raise typer.Exit(read_return(file, sys.stdout, sys.stderr))


@app.command("correction-file")
def correction_file_command(
    pfmp: Annotated[list[UUID], typer.Option("--pfmp", help="A PFMP to correct (repeat for several).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Build and validate only: nothing stored nor sent.")]
    = False,
) -> None:
    """One address-correction file (§4.9) for these PFMPs: RNVP for students in France, our XSD, uploaded once
    like a payment file; no request changes state. One JSON line; exit 2 on an unknown or ineligible PFMP."""
    from aplypro_asp_gateway.domain.errors import CorrectionRefused, RnvpUnavailable
    from aplypro_asp_gateway.entrypoints.correction_file import EXIT_REFUSED, correction_file, result_line

    settings = AspSettings()
    configure_logging("asp-gateway", settings.log_level, settings.log_json)
    try:
        result = correction_file(settings, list(pfmp), dry_run=dry_run)
    except CorrectionRefused as refused:
        detail = "; ".join(f"{p}: {', '.join(r)}" for p, r in refused.refusals.items())
        sys.stderr.write(f"correction-file: {refused} (nothing built): {detail}\n")
        raise typer.Exit(EXIT_REFUSED) from None
    except RnvpUnavailable as unavailable:
        sys.stderr.write(f"correction-file: {unavailable.code}: {unavailable} (nothing built)\n")
        raise typer.Exit(EXIT_REFUSED) from None
    sys.stdout.write(json.dumps(result_line(result)) + "\n")


@app.command("demo-file")
def demo_file_command(
    count: Annotated[int, typer.Option("--count", min=1, max=7000, help="Requests to generate (7 000: the cap).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the payment file.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fictitious data (same seed, same file).")] = 0,
) -> None:
    """One payment file of COUNT fictitious requests, every variant, through the real builder and XSD; prints
    a JSON summary; exits 1 if the file does not validate (then nothing is written)."""
    settings = AspSettings()
    configure_logging("asp-gateway", settings.log_level, settings.log_json)  # logs to stderr: stdout is the JSON
    valid, summary = demo_file.run(count, out, seed)
    sys.stdout.write(json.dumps(summary) + "\n")
    if not valid:
        raise typer.Exit(1)


def main() -> None:
    app()
