"""`aplypro`: drive the local stack (demo, up, drill), regenerate the published specifications, inspect and
replay dead letters (dlt)."""

from __future__ import annotations

import shutil
import signal
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from .stack import LocalStack

app = typer.Typer(help="APLyPro local stack.", no_args_is_help=True)
dlt_app = typer.Typer(help="Dead-letter topics: list them, replay them onto their source topics.",
                      no_args_is_help=True)
app.add_typer(dlt_app, name="dlt")

WORKDIR = Annotated[Path, typer.Option(help="Where data, logs, PDFs and payment files go.")]


@app.command()
def demo(
    workdir: WORKDIR = Path("var/demo"),
    students_per_class: Annotated[int, typer.Option(help="Students in each of the 3 classes.")] = 20,
    keep: Annotated[bool, typer.Option(help="Keep the previous run's data instead of starting afresh.")] = False,
    serve: Annotated[bool, typer.Option(help="Then keep the stack running and serve the web application "
                                             "(address and demo accounts printed last) until Ctrl-C.")] = False,
) -> None:
    """Start everything, run one generated school through the pipeline, print a summary and how to see it in
    the web application, stop (with --serve: keep it open in the browser until Ctrl-C)."""
    from .demo import run_demo

    if workdir.exists() and not keep:
        shutil.rmtree(workdir)
    raise typer.Exit(run_demo(workdir.resolve(), students_per_class, serve=serve))


@app.command()
def up(workdir: WORKDIR = Path("var/stack"),
       sygne: Annotated[bool, typer.Option(help="Run the fake SYGNE and import its school at start.")] = True,
       asp_every: Annotated[float, typer.Option(help="Seconds between two rounds of the ASP's side: "
                                                     "`aplypro-asp-gateway poll`, then the fake ASP pays what it "
                                                     "integrated (0: never; poll yourself).")] = 30.0,
       ) -> None:
    """Start the broker, the database, the fake ASP SFTP server and the fake RNVP, the five services, the OIDC
    provider and the web application; stop them all on Ctrl-C. Each service's /metrics, /healthz and /readyz are
    printed and written, with the servers, to WORKDIR/stack.json (`aplypro status` reads it); then the web
    address and the demo accounts. Every --asp-every seconds the gateway polls the fake ASP's answers and the
    fake pays what it integrated, so requests sent end paid. With --sygne (the default) the fake SYGNE runs too:
    the demo's reference data is loaded and the SYGNE school imported from it over HTTP."""
    from .asp_fakes import asp_fakes
    from .drill.asp_desk import AspDesk
    from .oidc import ACCOUNT_ROLES, OidcProvider
    from .stack import LocalStack

    stack = LocalStack(workdir.resolve())
    resources = ExitStack()
    fakes = resources.enter_context(asp_fakes(workdir.resolve() / "fake-asp"))
    asp = fakes.asp
    # The gateway sends to the fake ASP and polls it over SFTP; its correction-file asks the fake RNVP.
    stack.extra_env.update(fakes.env)
    stack.start_servers()
    stack.start_all()
    try:
        oidc = OidcProvider.start(log_file=workdir.resolve() / "logs" / "oidc.log")
    except (RuntimeError, TimeoutError):
        stack.stop()
        resources.close()
        raise
    web_url = stack.start_web(oidc.issuer)
    typer.echo(f"KAFKA_BOOTSTRAP_SERVERS={stack.env['KAFKA_BOOTSTRAP_SERVERS']}")
    typer.echo(f"DATABASE_URL={stack.env['DATABASE_URL']}")
    rounds = f"every {asp_every:g} s" if asp_every > 0 else "when you run it"
    typer.echo(f"fake ASP: sftp://127.0.0.1:{asp.env['APLYPRO_ASP_SFTP_PORT']} (uploads in {asp.upload_dir}; "
               f"`aplypro-asp-gateway poll` fetches its answers and it pays what it integrated {rounds})")
    typer.echo(f"fake RNVP: APLYPRO_ASP_RNVP_URL={fakes.rnvp_url} (`aplypro-asp-gateway correction-file` asks it)")
    for service in stack.processes:
        url = stack.ops_url(service)
        typer.echo(f"{service:<12} metrics {url}/metrics  health {url}/healthz  ready {url}/readyz" if url
                   else f"{service:<12} no ops port (APLYPRO_OPS_PORT set by the caller)")
    for name, url in stack.web_tier_ops().items():
        typer.echo(f"{name:<12} metrics {url}/metrics  health {url}/healthz  ready {url}/readyz")
    if sygne:
        _import_sygne_school(stack, workdir.resolve(), resources)
    typer.echo(f"written to {stack.write_description()}; `aplypro status --workdir {workdir}` shows the stack")
    typer.echo(f"OIDC provider: {oidc.issuer} (its login page lists the demo accounts)")
    typer.echo("demo accounts (click one on the provider's page):")
    for account, role in ACCOUNT_ROLES.items():
        typer.echo(f"  {account:<12} {role}")
    typer.echo(f"logs in {workdir / 'logs'}; Ctrl-C stops everything")
    typer.echo(f"web application: {web_url}")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    # The ASP's day, as an operator's scheduled `poll` and the ASP's payment runs would play it.
    desk = AspDesk(asp, stack.env, asp_every) if asp_every > 0 else None
    if desk is not None:
        desk.start()
    try:
        while not stopping:
            dead = [name for name, alive in stack.alive().items() if not alive]
            for name in dead:
                typer.echo(f"{name} stopped; restarting it", err=True)
                stack.processes.pop(name)
                stack.start_service(name)  # same ops port
            if dead:
                stack.write_description()  # its new pid
            if stack.web is not None and stack.web.poll() is not None:
                typer.echo("web application stopped; restarting it", err=True)
                stack.start_web(oidc.issuer)  # same port
            if stack.students_api is not None and stack.students_api.poll() is not None:
                typer.echo("students API stopped; restarting it", err=True)
                stack.start_students_api()  # same port and token
            time.sleep(1)
    finally:
        if desk is not None:
            desk.stop()  # its poll finishes first (at most one round)
        stack.stop()
        oidc.stop()
        resources.close()  # the fake SYGNE, then the fake RNVP and the fake ASP


def _import_sygne_school(stack: LocalStack, workdir: Path, resources: ExitStack) -> None:
    """The fake SYGNE for the stack's lifetime; the reference data loaded; its school imported once."""
    from .school import SYGNE_UAI, generate_school
    from .sygne_school import SygneImportFailed, fake_sygne_for, import_line, import_sygne_school

    server = resources.enter_context(fake_sygne_for(stack))
    reference = generate_school(workdir / "reference", 1)
    for args in reference.reference_commands():
        done = stack.run_command(args)
        if done.returncode != 0:
            typer.echo(f"{' '.join(args[:2])} failed: {done.stderr[-500:]}", err=True)
            return
    try:
        typer.echo(f"fake SYGNE: {server.base_url}; imported {SYGNE_UAI}: {import_line(import_sygne_school(stack))}")
    except SygneImportFailed as exc:
        typer.echo(f"fake SYGNE: {server.base_url}; the import of {SYGNE_UAI} failed: {exc}", err=True)


@app.command()
def status(
    workdir: WORKDIR = Path("var/stack"),
    as_json: Annotated[bool, typer.Option("--json", help="The rows as JSON instead of a table.")] = False,
) -> None:
    """One table of the stack `aplypro up` runs in WORKDIR: services ready, consumer lag per group, outbox
    depth per service, documents queue per kind, payment requests per state."""
    import asyncio
    import json
    from dataclasses import asdict

    from rich.console import Console

    from . import status as stack_status

    try:
        info = stack_status.load(workdir.resolve())
    except stack_status.NoStack as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    rows = asyncio.run(stack_status.gather(info))
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], indent=1))
        return
    Console(width=140).print(stack_status.table(rows, f"APLyPro stack ({workdir})"))


@app.command()
def drill(
    students: Annotated[int, typer.Option(help="Students generated (two PFMPs each).")] = 2000,
    minutes: Annotated[float, typer.Option(help="How long the chaos lasts, load included.")] = 5,
    workdir: WORKDIR = Path("var/drill"),
    kill_every: Annotated[float, typer.Option(help="Mean seconds between two chaos actions (0: none).")] = 4.0,
    accidents: Annotated[bool, typer.Option(help="Re-import a PFMP file and duplicate rows (--no-accidents: "
                                                 "a baseline of the checks).")] = True,
) -> None:
    """The whole pipeline under load while processes are killed and restarted; then check that every
    PFMP is paid exactly once. Exit 0 only when everything holds."""
    from .drill.run import run_drill

    def interrupted(*_: object) -> None:
        # A second signal (uv forwards SIGTERM to a child the group kill already reached) must not cut the
        # drill's `finally` short: it would leave the fleet running.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt  # so the drill's finally kills every process it started

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    if workdir.exists():
        shutil.rmtree(workdir)
    # The queues drain after the chaos: decisions (a few a second) set the pace, so the wait grows with them.
    raise typer.Exit(run_drill(workdir.resolve(), students, minutes, echo=typer.echo, kill_interval_s=kill_every,
                                  accidents=accidents, quiesce_timeout_s=max(600.0, students * 0.3)))


@app.command()
def specs() -> None:
    """Regenerate contracts/schemas/*.json and docs/asyncapi.json from the contracts."""
    from .specs import write_all

    root = Path(__file__).resolve().parents[4]
    for path in write_all(root):
        typer.echo(path.relative_to(root))


TOPIC_HELP = "A dead-letter or source topic, with or without the APLYPRO_TOPIC_NAMESPACE prefix."


@dlt_app.command("list")
def dlt_list(topic: Annotated[str | None, typer.Argument(help=TOPIC_HELP)] = None) -> None:
    """Without TOPIC: every *.dlt topic of the namespace, counted by reason code. With TOPIC: one line
    per dead letter (never its body)."""
    import asyncio

    from aplypro_servicekit.settings import ServiceSettings

    from . import deadletters

    settings = ServiceSettings()
    bootstrap, namespace = settings.kafka_bootstrap_servers, settings.topic_namespace
    if topic is None:
        for name, counts in asyncio.run(deadletters.counts_by_reason(bootstrap, namespace)):
            reasons = " ".join(f"{code}={n}" for code, n in sorted(counts.items()))
            typer.echo(f"{name}\t{counts.total()}\t{reasons}".rstrip())
        return
    try:
        letters = asyncio.run(deadletters.read_dead_letters(bootstrap, deadletters.resolve(topic, namespace)))
    except deadletters.UnknownTopic as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(deadletters.DESCRIBE_HEADER)
    for letter in letters:
        typer.echo(letter.describe())


@dlt_app.command("replay")
def dlt_replay(
    topic: Annotated[str, typer.Argument(help=TOPIC_HELP)],
    reason: Annotated[str | None, typer.Option(help="Only the dead letters of this reason code.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Say what would be replayed; publish nothing.")] = False,
) -> None:
    """Put dead letters back on their source topic (original key, body and headers) once the cause is
    fixed. Safe to run twice: a consumer applies an event once."""
    import asyncio

    from aplypro_servicekit.settings import ServiceSettings

    from . import deadletters

    settings = ServiceSettings()
    name = deadletters.resolve(topic, settings.topic_namespace)
    try:
        result = asyncio.run(deadletters.replay(settings.kafka_bootstrap_servers, name, reason=reason,
                                                dry_run=dry_run))
    except deadletters.UnknownTopic as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(deadletters.DESCRIBE_HEADER)
    for letter in result.replayed:
        typer.echo(letter.describe())
    for letter, why in result.skipped:
        typer.echo(f"skipped ({why})\t{letter.describe()}", err=True)
    verb = "would replay" if dry_run else "replayed"
    typer.echo(f"{verb} {len(result.replayed)} dead letters of {name}; skipped {len(result.skipped)}")


def main() -> None:
    app()
