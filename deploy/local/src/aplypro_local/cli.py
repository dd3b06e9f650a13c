"""`aplypro`: drive the local stack (demo, up) and regenerate the published specifications."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="APLyPro local stack.", no_args_is_help=True)

WORKDIR = Annotated[Path, typer.Option(help="Where data, logs, PDFs and payment files go.")]


@app.command()
def demo(
    workdir: WORKDIR = Path("var/demo"),
    students_per_class: Annotated[int, typer.Option(help="Students in each of the 3 classes.")] = 20,
    keep: Annotated[bool, typer.Option(help="Keep the previous run's data instead of starting afresh.")] = False,
) -> None:
    """Start everything, run one generated school through the pipeline, print a summary, stop."""
    from .demo import run_demo

    if workdir.exists() and not keep:
        shutil.rmtree(workdir)
    raise typer.Exit(run_demo(workdir.resolve(), students_per_class))


@app.command()
def up(workdir: WORKDIR = Path("var/stack")) -> None:
    """Start the broker, the database and the five services; stop them all on Ctrl-C."""
    from .stack import LocalStack

    stack = LocalStack(workdir.resolve())
    stack.start_servers()
    stack.start_all()
    typer.echo(f"KAFKA_BOOTSTRAP_SERVERS={stack.env['KAFKA_BOOTSTRAP_SERVERS']}")
    typer.echo(f"DATABASE_URL={stack.env['DATABASE_URL']}")
    typer.echo(f"logs in {workdir / 'logs'}; Ctrl-C stops everything")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            dead = [name for name, alive in stack.alive().items() if not alive]
            for name in dead:
                typer.echo(f"{name} stopped; restarting it", err=True)
                stack.processes.pop(name)
                stack.start_service(name)
            time.sleep(1)
    finally:
        stack.stop()


@app.command()
def specs() -> None:
    """Regenerate contracts/schemas/*.json and docs/asyncapi.json from the contracts."""
    from .specs import write_all

    root = Path(__file__).resolve().parents[4]
    for path in write_all(root):
        typer.echo(path.relative_to(root))


def main() -> None:
    app()
