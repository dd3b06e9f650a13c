"""`aplypro demo`: one generated school through the whole pipeline, with progress and a summary."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from aplypro_contracts.reasons import describe
from rich.console import Console
from rich.table import Table

from .asp_fakes import asp_fakes
from .fake_asp.in_thread import FakeAspInThread
from .oidc import ACCOUNT_ROLES, OidcProvider
from .probes import Probe
from .school import SYGNE_UAI, UAI, SchoolFiles, generate_school
from .stack import LocalStack
from .sygne_school import SygneImportFailed, fake_sygne_for, import_line, import_sygne_school

console = Console()


# pfmp's refusal codes that are, at record time, a payment-blocking reason of lifecycles.md §4 under
# another key (the other codes it shares with §4 are the same keys: missing_attributive_decision…).
REFUSAL_REASONS = {"pfmp_overlaps": "overlaps"}


class DemoFailed(RuntimeError):
    pass


def _command(stack: LocalStack, *args: str) -> str:
    result = stack.run_command(list(args))
    if result.returncode != 0:
        raise DemoFailed(f"`{' '.join(args[:2])}` failed:\n{result.stderr[-2000:]}")
    return result.stdout


def _refused_file(stack: LocalStack, *args: str) -> Counter[str]:
    """A file the service must refuse whole (exit 2): the refusal codes of its rows (`line N: code: …`)."""
    result = stack.run_command(list(args))
    if result.returncode != 2:
        raise DemoFailed(f"`{' '.join(args[:2])}` was expected to refuse the file (exit 2), got "
                         f"{result.returncode}:\n{(result.stderr or result.stdout)[-2000:]}")
    return Counter(line.split(": ")[1] for line in result.stderr.splitlines() if line.startswith("line "))


def _wait(probe: Probe, stack: LocalStack, label: str, done: Callable[[dict[str, int]], bool],
          progress: Callable[[dict[str, int]], str], timeout: float) -> dict[str, int]:
    """Until `done`. A stage may take as long as its count keeps moving (a bigger school takes longer); it
    fails when the count stood still for `timeout` seconds."""
    started = moved = time.monotonic()
    shown = ""
    with console.status(label) as status:
        while True:
            figures = asyncio.run(probe.figures())
            now_shown = progress(figures)
            if now_shown != shown:
                shown, moved = now_shown, time.monotonic()
            status.update(f"{label} {shown}")
            if done(figures):
                console.print(f"[green]✓[/] {label} {shown} ({time.monotonic() - started:.0f} s)")
                return figures
            dead = [name for name, alive in stack.alive().items() if not alive]
            if dead:
                raise DemoFailed(f"service(s) stopped: {', '.join(dead)}; see {stack.workdir / 'logs'}")
            if time.monotonic() - moved > timeout:
                raise DemoFailed(f"timed out: {label} {shown} (no progress for {timeout:.0f} s); "
                                 f"see {stack.workdir / 'logs'}")
            time.sleep(0.3)


def decisions_known(figures: dict[str, int]) -> int:
    """The DAs known to every service that checks them before a payment: pfmp, the calculator and the gateway
    (its DA numbers; without them a request read early is held with `missing_attributive_decision`, and the file
    stage counted it as blocked for good: three demos ended with 0 sent and 89 blocked)."""
    return min(figures["pfmp_decisions"], figures["calculator_decisions"], figures["gateway_decisions"])


def students_known(figures: dict[str, int]) -> int:
    """The students whose RIB pfmp knows and whose identity, schooling and RIB the gateway knows."""
    return min(figures["pfmp_ribs"], figures["gateway_students"], figures["gateway_schoolings"],
               figures["gateway_ribs"])


@dataclass
class SchoolRun:
    """What one school's run ended with: the figures, and why the students not paid are not."""

    figures: dict[str, int]
    # (reason key of lifecycles.md §4, where it was decided) → count: payment requests blocked by the calculator
    # or the asp-gateway, PFMPs refused by pfmp when recorded or at validation.
    blocked: dict[tuple[str, str], int] = field(default_factory=dict)

    def by_reason(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (reason, _), count in self.blocked.items():
            out[reason] += count
        return dict(out)


def run_school(stack: LocalStack, school: SchoolFiles, timeout: float, asp: FakeAspInThread | None = None) -> SchoolRun:
    """Feed one school to a running stack and wait until every stage is done; returns the figures and the
    blocked counts per reason. With `asp` (the gateway set to reach it over SFTP), the payment file goes to the
    fake ASP, whose answers and payments are fetched with `aplypro-asp-gateway poll` until every request sent
    is paid or refused."""
    probe = Probe(stack.env["DATABASE_URL"], stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.schema_prefix,
                  stack.env.get("APLYPRO_TOPIC_NAMESPACE", ""))
    n, p, da = school.student_count, school.pfmp_count, school.decision_count
    run = SchoolRun(figures={})
    for args in school.reference_commands():
        _command(stack, *args)
    _command(stack, "aplypro-students", "import-csv", str(school.students), "--uai", UAI)
    _command(stack, "aplypro-students", "import-ribs", str(school.ribs))
    console.print(f"[green]✓[/] imported {n} students and their RIBs from {school.students.parent}")
    _wait(probe, stack, "pfmp learns the schoolings", lambda f: f["pfmp_schoolings"] >= n,
          lambda f: f"{f['pfmp_schoolings']}/{n}", timeout)
    # Validation needs each schooling's DA and a RIB (issue 10): the DAs come from the students' events
    # alone, so they are awaited before the director validates. A class without allowance gets none.
    _wait(probe, stack, "documents renders the decisions", lambda f: f["decisions"] >= da,
          lambda f: f"{f['decisions']}/{da}", timeout)
    # The calculator and the gateway must know them too, so that no request is blocked for a fact still on
    # its way when the reasons are counted below.
    _wait(probe, stack, "pfmp, calculator and asp-gateway learn the decisions, students and RIBs",
          lambda f: decisions_known(f) >= da and students_known(f) >= n,
          lambda f: f"{decisions_known(f)}/{da} DAs, {students_known(f)}/{n} students", timeout)
    _command(stack, "aplypro-pfmp", "import-csv", str(school.pfmps))
    if school.planted is not None:
        # The school sends a PFMP again with other dates: pfmp refuses what overlaps a recorded one.
        for code, count in _refused_file(stack, "aplypro-pfmp", "import-csv", str(school.late_pfmps)).items():
            run.blocked[REFUSAL_REASONS.get(code, code), "pfmp: refused when recorded"] = count
    report = json.loads(_command(stack, "aplypro-pfmp", "validate", "--uai", UAI, "--user", "demo-director"))
    for code, count in report["skipped"].items():
        run.blocked[code, "pfmp: refused at validation"] = count
    console.print(f"[green]✓[/] recorded {p} PFMPs, validated {report['validated']}")
    priced = school.priced_pfmp_count
    _wait(probe, stack, "calculator prices the PFMPs", lambda f: f["amounts"] >= priced,
          lambda f: f"{f['amounts']}/{priced}", timeout)
    # A blocked request is never sent: done when every request is either in a file or held with its reasons.
    run.figures = _wait(probe, stack, "asp-gateway writes the payment file",
                        lambda f: f["payment_requests"] > 0
                        and f["requests_sent"] + f["requests_blocked"] >= f["payment_requests"],
                        lambda f: f"{f['requests_sent']} sent + {f['requests_blocked']} blocked"
                                  f"/{f['payment_requests']}", timeout)
    if asp is not None:
        run.figures = _asp_answers(stack, probe, asp, timeout)
    run.figures["dead_letters"] = asyncio.run(probe.dead_letters())
    run.blocked.update(asyncio.run(probe.blocked_by_reason()))
    return run


def _asp_answers(stack: LocalStack, probe: Probe, asp: FakeAspInThread, timeout: float) -> dict[str, int]:
    """Poll the ASP's answers (integrations, rejects), ask the fake for the payments of what it integrated,
    poll again; until the calculator knows an answer for every request sent."""
    label = "the ASP integrates and pays; asp-gateway polls"
    started = moved = time.monotonic()
    shown = ""
    with console.status(label) as status:
        while True:
            _command(stack, "aplypro-asp-gateway", "poll")
            asp.emit_payments()
            asp.emit_recovery_orders()  # lowered rectifications (none while the §8.2 block is on)
            figures = asyncio.run(probe.figures())
            answered = figures["requests_paid"] + figures["requests_unpaid"] + figures["requests_rejected"]
            now_shown = f"{answered}/{figures['requests_sent']}"
            if now_shown != shown:
                shown, moved = now_shown, time.monotonic()
            status.update(f"{label} {shown}")
            if (figures["requests_awaiting_asp"] == 0 and figures["requests_awaiting_integration"] == 0
                    and answered >= figures["requests_sent"]):
                console.print(f"[green]✓[/] {label} {shown} ({time.monotonic() - started:.0f} s)")
                return figures
            if time.monotonic() - moved > timeout:
                raise DemoFailed(f"timed out: {label} {shown} (no progress for {timeout:.0f} s)")
            time.sleep(1)


def run_demo(workdir: Path, students_per_class: int = 20, timeout: float = 150, serve: bool = False) -> int:
    started = time.monotonic()
    stack = LocalStack(workdir)
    resources = ExitStack()
    try:
        fakes = resources.enter_context(asp_fakes(workdir / "fake-asp"))
        asp = fakes.asp
        stack.extra_env.update(fakes.env)  # the gateway sends to the fake ASP, asks the fake RNVP
        console.print(f"[green]✓[/] fake ASP SFTP server on 127.0.0.1:{asp.env['APLYPRO_ASP_SFTP_PORT']}, "
                      f"fake RNVP on {fakes.rnvp_url}")
        with console.status("starting the embedded Kafka broker and PostgreSQL"):
            stack.start_servers()
        console.print(f"[green]✓[/] broker {stack.env['KAFKA_BOOTSTRAP_SERVERS']}, database ready")
        stack.start_all()
        console.print("[green]✓[/] started students, pfmp, calculator, documents, asp-gateway")
        run = run_school(stack, generate_school(workdir / "school", students_per_class), timeout, asp)
        with console.status(f"importing a second school ({SYGNE_UAI}) from the fake SYGNE over HTTP"), \
                fake_sygne_for(stack):
            sygne = import_sygne_school(stack)
        console.print(f"[green]✓[/] imported {SYGNE_UAI} from SYGNE (fake): {import_line(sygne)}")
        _summary(stack, run, time.monotonic() - started, asp.upload_dir, sygne)
        code = 0 if run.figures["dead_letters"] == 0 else 1
        if serve:
            serve_web_until_interrupted(stack, workdir)
        else:
            # Its data lives in this stack, which stops now: the address is shown answering, then how to keep it.
            with web_application(stack, workdir) as (url, _):
                console.print(f"web application: [bold]{url}[/] answered ({ANSWERED}); this demo's stack stops "
                              "now: [bold]uv run aplypro demo --serve[/] keeps it open until Ctrl-C "
                              "([bold]uv run aplypro up[/]: a stack that stays up)", soft_wrap=True)
        return code
    except (DemoFailed, SygneImportFailed) as exc:
        console.print(f"[red]✗ {exc}[/]", soft_wrap=True)
        return 1
    finally:
        with console.status("stopping"):
            stack.stop()
            resources.close()


# What `web_answers` checked, as the demo's last line says it.
ANSWERED = "home page with its login button, /stats, the OIDC provider's login page: HTTP 200"


@contextmanager
def web_application(stack: LocalStack, workdir: Path, timeout: float = 90) -> Iterator[tuple[str, OidcProvider]]:
    """The OIDC provider and the web application (with the documents and students APIs it calls) on the demo's
    stack, once the web application answers; the demo accounts printed. A web application that does not answer
    is a failed demo (DemoFailed). The provider stops after the block, the web processes with the stack."""
    log = workdir / "logs" / "oidc.log"
    try:
        oidc = OidcProvider.start(log_file=log)
    except (RuntimeError, TimeoutError) as exc:
        raise DemoFailed(f"the OIDC provider did not start ({exc}); see {log}") from None
    try:
        url = stack.start_web(oidc.issuer)
        with console.status(f"starting the web application at {url}"):
            web_answers(stack, url, oidc.issuer, timeout)
        console.print(f"OIDC provider: {oidc.issuer}; demo accounts (click one on its page):", soft_wrap=True)
        for account, role in ACCOUNT_ROLES.items():
            console.print(f"  {account:<12} {role}", soft_wrap=True)
        yield url, oidc
    finally:
        oidc.stop()


def web_answers(stack: LocalStack, url: str, issuer: str, timeout: float) -> None:
    """Until the web application's home page (with its login button) and public /stats answer 200 and its login
    leads to the provider's page; DemoFailed when its process exits or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    problem: str | None = "no answer"
    with httpx2.Client(timeout=5) as client:
        while True:
            if stack.web is None or stack.web.poll() is not None:
                code = None if stack.web is None else stack.web.returncode
                raise DemoFailed(f"the web application stopped (exit {code}); see {stack.workdir / 'logs' / 'web.log'}")
            try:
                problem = _unanswered(client, url, issuer)
            except httpx2.HTTPError as exc:
                problem = f"{type(exc).__name__}"
            if problem is None:
                return
            if time.monotonic() > deadline:
                raise DemoFailed(f"the web application at {url} did not answer in {timeout:.0f} s ({problem}); "
                                 f"see {stack.workdir / 'logs' / 'web.log'}")
            time.sleep(0.3)


def _unanswered(client: httpx2.Client, url: str, issuer: str) -> str | None:
    """What is wrong with the web application's answers, or None when all is right."""
    home = client.get(f"{url}/")
    if home.status_code != 200 or "Se connecter" not in home.text:
        return f"GET / answered {home.status_code}"
    stats = client.get(f"{url}/stats")
    if stats.status_code != 200:
        return f"GET /stats answered {stats.status_code}"
    login = client.get(f"{url}/connexion", follow_redirects=True)
    if login.status_code != 200 or not str(login.url).startswith(issuer):
        return f"GET /connexion ended at {login.url.copy_with(query=None)} with {login.status_code}"
    return None


def serve_web_until_interrupted(stack: LocalStack, workdir: Path) -> None:
    """Start the OIDC provider and the web application on the demo's stack, print the demo accounts and, last,
    the address once it answers; keep everything running until Ctrl-C."""
    with web_application(stack, workdir) as (url, oidc):
        console.print(f"web application: [bold]{url}[/] answered ({ANSWERED}); Ctrl-C stops everything",
                      soft_wrap=True)
        stopping = threading.Event()
        # SIGTERM too (a supervisor, or a shell that started the demo in the background, where SIGINT is ignored)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        while not stopping.wait(1):
            if stack.web is not None and stack.web.poll() is not None:
                stack.start_web(oidc.issuer)  # same port


def _summary(stack: LocalStack, run: SchoolRun, seconds: float, asp_folder: Path, sygne: dict[str, Any]) -> None:
    f = run.figures
    files = sorted(asp_folder.glob("nps_ficimport_idp_*.xml"))
    table = Table(title=f"APLyPro demo: one school, {seconds:.0f} s")
    table.add_column("what")
    table.add_column("result", justify="right")
    table.add_column("where")
    table.add_row("students imported", str(f["students"]), "students (CSV file)")
    table.add_row(f"students imported from SYGNE ({SYGNE_UAI})", str(sygne["students"]),
                  "students (fake SYGNE over HTTP)")
    table.add_row("PFMPs validated", str(f["pfmps_validated"]), "pfmp")
    table.add_row("amounts computed", str(f["amounts"]), "calculator")
    table.add_row("total of amounts", _euros(f["amounts_total_cents"]), "calculator")
    table.add_row("payment requests", str(f["payment_requests"]), "calculator")
    table.add_row("decisions (PDF) written", str(f["decisions"]), stack.env["APLYPRO_DOCUMENTS_STORAGE_DIR"])
    table.add_row("ASP payment files (uploaded over SFTP)", str(len(files)), str(asp_folder))
    table.add_row("requests in the files", str(f["requests_sent"]), "asp-gateway")
    table.add_row("total in the files", _euros(f["sent_total_cents"]), "asp-gateway")
    table.add_row("requests paid by the ASP", str(f["requests_paid"]), "calculator (ASP returns)")
    table.add_row("requests unpaid or rejected", str(f["requests_unpaid"] + f["requests_rejected"]),
                  "calculator (ASP returns)")
    table.add_row("requests blocked", str(f["requests_blocked"]), "calculator, asp-gateway")
    for (reason, where), count in sorted(run.blocked.items()):
        table.add_row(f"  blocked: {reason}", str(count), where)
    table.add_row("messages dead-lettered", str(f["dead_letters"]), "*.dlt topics")
    console.print(table)
    for reason in sorted({reason for reason, _ in run.blocked}):
        console.print(f"[dim]{describe(reason).line()}[/]")
    for path in files:
        console.print(f"payment file: {path}")


def _euros(cents: int) -> str:
    return f"{cents // 100:,} €".replace(",", " ")
