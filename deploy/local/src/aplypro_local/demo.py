"""`aplypro demo`: one generated school through the whole pipeline, with progress and a summary."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .probes import Probe
from .school import UAI, SchoolFiles, generate_school
from .stack import LocalStack

console = Console()


class DemoFailed(RuntimeError):
    pass


def _command(stack: LocalStack, *args: str) -> str:
    result = stack.run_command(list(args))
    if result.returncode != 0:
        raise DemoFailed(f"`{' '.join(args[:2])}` failed:\n{result.stderr[-2000:]}")
    return result.stdout


def _wait(probe: Probe, stack: LocalStack, label: str, done: Callable[[dict[str, int]], bool],
          progress: Callable[[dict[str, int]], str], timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    with console.status(label) as status:
        while True:
            figures = asyncio.run(probe.figures())
            status.update(f"{label} {progress(figures)}")
            if done(figures):
                console.print(f"[green]✓[/] {label} {progress(figures)}")
                return figures
            dead = [name for name, alive in stack.alive().items() if not alive]
            if dead:
                raise DemoFailed(f"service(s) stopped: {', '.join(dead)}; see {stack.workdir / 'logs'}")
            if time.monotonic() > deadline:
                raise DemoFailed(f"timed out: {label} {progress(figures)}; see {stack.workdir / 'logs'}")
            time.sleep(0.3)


def run_school(stack: LocalStack, school: SchoolFiles, timeout: float) -> dict[str, int]:
    """Feed one school to a running stack and wait until every stage is done; returns the figures."""
    probe = Probe(stack.env["DATABASE_URL"], stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.schema_prefix,
                  stack.extra_env.get("APLYPRO_TOPIC_NAMESPACE", ""))
    n, p = school.student_count, school.pfmp_count
    _command(stack, "aplypro-students", "load-establishments", str(school.establishments))
    _command(stack, "aplypro-students", "load-mefs", str(school.mefs), "--school-year", "2025")
    _command(stack, "aplypro-students", "import-csv", str(school.students), "--uai", UAI)
    _command(stack, "aplypro-students", "import-ribs", str(school.ribs))
    console.print(f"[green]✓[/] imported {n} students and their RIBs from {school.students.parent}")
    _wait(probe, stack, "pfmp learns the schoolings", lambda f: f["pfmp_schoolings"] >= n,
          lambda f: f"{f['pfmp_schoolings']}/{n}", timeout)
    # Validation needs each schooling's DA and a RIB (issue 10): the DAs come from the students' events
    # alone, so they are awaited before the director validates.
    _wait(probe, stack, "documents renders the decisions", lambda f: f["decisions"] >= n,
          lambda f: f"{f['decisions']}/{n}", timeout)
    _wait(probe, stack, "pfmp learns the decisions and RIBs", lambda f: min(f["pfmp_decisions"], f["pfmp_ribs"]) >= n,
          lambda f: f"{min(f['pfmp_decisions'], f['pfmp_ribs'])}/{n}", timeout)
    _command(stack, "aplypro-pfmp", "import-csv", str(school.pfmps))
    _command(stack, "aplypro-pfmp", "validate", "--uai", UAI, "--user", "demo-director")
    console.print(f"[green]✓[/] recorded and validated {p} PFMPs")
    _wait(probe, stack, "calculator prices the PFMPs", lambda f: f["amounts"] >= p,
          lambda f: f"{f['amounts']}/{p}", timeout)
    figures = _wait(probe, stack, "asp-gateway writes the payment file",
                    lambda f: f["payment_requests"] > 0 and f["requests_sent"] >= f["payment_requests"],
                    lambda f: f"{f['requests_sent']}/{f['payment_requests']}", timeout)
    figures["dead_letters"] = asyncio.run(probe.dead_letters())
    return figures


def run_demo(workdir: Path, students_per_class: int = 20, timeout: float = 150) -> int:
    started = time.monotonic()
    stack = LocalStack(workdir)
    try:
        with console.status("starting the embedded Kafka broker and PostgreSQL"):
            stack.start_servers()
        console.print(f"[green]✓[/] broker {stack.env['KAFKA_BOOTSTRAP_SERVERS']}, database ready")
        stack.start_all()
        console.print("[green]✓[/] started students, pfmp, calculator, documents, asp-gateway")
        figures = run_school(stack, generate_school(workdir / "school", students_per_class), timeout)
        _summary(stack, figures, time.monotonic() - started)
        return 0 if figures["dead_letters"] == 0 else 1
    except DemoFailed as exc:
        console.print(f"[red]✗ {exc}[/]")
        return 1
    finally:
        with console.status("stopping"):
            stack.stop()


def _summary(stack: LocalStack, f: dict[str, int], seconds: float) -> None:
    files = sorted((Path(stack.env["APLYPRO_ASP_OUTBOX_DIR"])).glob("*.xml"))
    table = Table(title=f"APLyPro demo: one school, {seconds:.0f} s")
    table.add_column("what")
    table.add_column("result", justify="right")
    table.add_column("where")
    table.add_row("students imported", str(f["students"]), "students")
    table.add_row("PFMPs validated", str(f["pfmps_validated"]), "pfmp")
    table.add_row("amounts computed", str(f["amounts"]), "calculator")
    table.add_row("total of amounts", f"{f['amounts_total_cents'] // 100:,} €".replace(",", " "), "calculator")
    table.add_row("payment requests", str(f["payment_requests"]), "calculator")
    table.add_row("decisions (PDF) written", str(f["decisions"]), stack.env["APLYPRO_DOCUMENTS_STORAGE_DIR"])
    table.add_row("ASP payment files", str(len(files)), str(Path(stack.env["APLYPRO_ASP_OUTBOX_DIR"])))
    table.add_row("requests in the files", str(f["requests_sent"]), "asp-gateway")
    table.add_row("messages dead-lettered", str(f["dead_letters"]), "*.dlt topics")
    console.print(table)
    for path in files:
        console.print(f"payment file: {path}")
