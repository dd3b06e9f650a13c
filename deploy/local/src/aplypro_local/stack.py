"""The local stack: embedded broker and database (unless given), and the five services as processes."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .embedded import EmbeddedKafka, EmbeddedPostgres

SERVICES = ("students", "pfmp", "calculator", "documents", "asp-gateway")
STACK_FILE = "stack.json"  # in the workdir: where the servers and each service's ops endpoints are


def service_command(service: str) -> list[str]:
    """The service's console script from this environment (`aplypro-<service> run`)."""
    script = Path(sys.executable).parent / f"aplypro-{service}"
    if script.exists():
        return [str(script), "run"]
    module = f"aplypro_{service.replace('-', '_')}.entrypoints.cli"
    return [sys.executable, "-c", f"import sys; from {module} import main; sys.argv[0]='x'; main()", "run"]


def shared_pycache() -> Path:
    """Where the local stacks keep their bytecode: the user's cache folder, shared by every stack (and test) run
    from any checkout; each file is checked against its source's time and size when read."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "aplypro" / "pycache"


def bytecode_cache(environ: Mapping[str, str], folder: Path) -> dict[str, str]:
    """The environment with a bytecode cache in `folder`: a module is compiled by the first process that imports it
    and read by the later ones. Under PYTHONDONTWRITEBYTECODE (this machine's setting, with no `.pyc` in the
    virtual environment) every service, consumer process and CLI compiled each third-party and project module it
    imports from source: 2.0 s of CPU to import the gateway's service module, 1.0 s from the cache. With a prefix
    Python also ignores the interpreter's own compiled standard library: the very first processes compile it too,
    hence one folder shared by every stack rather than one per stack (a fresh stack of five services would compile
    it five times at once). The production image ships compiled bytecode (deploy/k8s/Dockerfile,
    UV_COMPILE_BYTECODE). Nothing is written beside the sources; a caller's own PYTHONPYCACHEPREFIX is kept."""
    env = dict(environ)
    if "PYTHONPYCACHEPREFIX" not in env:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder)
    return env


WEB_TIER = ("web", "students-api", "documents-api")  # their ops ports live in ops_ports too


@dataclass
class LocalStack:
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    kafka: EmbeddedKafka | None = None
    postgres: EmbeddedPostgres | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    # Each service's /metrics, /healthz, /readyz port (APLYPRO_OPS_PORT of its process), chosen at its
    # first start and kept across restarts; none when the caller sets APLYPRO_OPS_PORT itself.
    ops_ports: dict[str, int] = field(default_factory=dict)  # and the web tier's (WEB_TIER), chosen at their start
    # The schools' web application (`aplypro-pfmp web`), beside the services when start_web() was called.
    web: subprocess.Popen[bytes] | None = None
    web_port: int = 0
    # The students service's internal API (`aplypro-students api`), which the web enters RIBs through.
    students_api: subprocess.Popen[bytes] | None = None
    students_api_port: int = 0
    students_api_token: str = ""
    # The documents' HTTP API (`aplypro-documents api`) the web application downloads PDFs through, started
    # with it; a token made per stack (service-to-service only).
    documents_api: subprocess.Popen[bytes] | None = None
    documents_api_port: int = 0
    documents_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def schema_prefix(self) -> str:
        # Once started, the services' environment: a namespace set by the caller's environment counts too.
        namespace = (self.env or self.extra_env).get("APLYPRO_TOPIC_NAMESPACE", "")
        return namespace.replace(".", "_").replace("-", "_").lower()

    def start_servers(self) -> None:
        """Start the embedded servers unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL point elsewhere."""
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        bootstrap = self.extra_env.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            self.kafka = EmbeddedKafka.start(log_file=self.workdir / "logs" / "tansu.log")
            bootstrap = self.kafka.bootstrap
        database_url = self.extra_env.get("DATABASE_URL") or os.environ.get("DATABASE_URL")
        if not database_url:
            self.postgres = EmbeddedPostgres.start(self.workdir / "pgdata")
            database_url = self.postgres.url
        self.env = {
            **bytecode_cache(os.environ, shared_pycache()),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "DATABASE_URL": database_url,
            "APLYPRO_ASP_OUTBOX_DIR": str(self.workdir / "asp" / "outbox"),
            "APLYPRO_DOCUMENTS_STORAGE_DIR": str(self.workdir / "documents"),
            # Requests of validated PFMPs are evaluated at once here, not at the next midnight (the
            # production default, lifecycles.md §5), so the demo, the bench and the end-to-end tests flow
            # in seconds. A caller who sets it (environment or extra_env) keeps its value.
            "APLYPRO_CALCULATOR_EVALUATION_COOLDOWN": os.environ.get("APLYPRO_CALCULATOR_EVALUATION_COOLDOWN", "none"),
            # Payment files may leave any day at any hour here, not only on weekday nights (asp-exchange.md §3.4,
            # the production default), for the same reason.
            "APLYPRO_ASP_SEND_DAYS": os.environ.get("APLYPRO_ASP_SEND_DAYS", "mon,tue,wed,thu,fri,sat,sun"),
            "APLYPRO_ASP_SEND_WINDOW": os.environ.get("APLYPRO_ASP_SEND_WINDOW", "00:00-23:59"),
            "APLYPRO_ASP_SKIP_PUBLIC_HOLIDAYS": os.environ.get("APLYPRO_ASP_SKIP_PUBLIC_HOLIDAYS", "false"),
            # The gateway builds a file whenever requests are ready (a drill under chaos: a dozen an hour); the
            # ASP's 10 files a day would hold the rest until tomorrow and the run would never settle.
            "APLYPRO_ASP_MAX_FILES_PER_DAY": os.environ.get("APLYPRO_ASP_MAX_FILES_PER_DAY", "1000"),
            **self.extra_env,
        }

    def start_service(self, service: str) -> subprocess.Popen[bytes]:
        env = self.env
        if "APLYPRO_OPS_PORT" not in self.env:
            port = self.ops_ports.setdefault(service, _free_port())
            env = {**self.env, "APLYPRO_OPS_PORT": str(port)}
        with (self.workdir / "logs" / f"{service}.log").open("ab") as log:  # the child keeps its own copy
            process = subprocess.Popen(service_command(service), env=env, stdout=log, stderr=log,
                                       start_new_session=True)
        self.processes[service] = process
        return process

    def start_all(self) -> None:
        for service in SERVICES:
            self.start_service(service)

    def start_web(self, oidc_issuer: str) -> str:
        """Start (or restart) the web application against this OIDC issuer; returns its address. The port is
        APLYPRO_WEB_PORT when set, else a free one kept across restarts."""
        self.web_port = self.web_port or int(self.env.get("APLYPRO_WEB_PORT") or _free_port())
        if self.documents_api is None or self.documents_api.poll() is not None:
            self.start_documents_api()
        env = {**self.env, "APLYPRO_WEB_OIDC_ISSUER": oidc_issuer, "APLYPRO_WEB_PORT": str(self.web_port),
               "APLYPRO_WEB_OPS_PORT": str(self.ops_ports.setdefault("web", _free_port())),
               "APLYPRO_WEB_DOCUMENTS_URL": f"http://127.0.0.1:{self.documents_api_port}",
               "APLYPRO_WEB_DOCUMENTS_TOKEN": self.documents_token, **self.start_students_api()}
        command = [*service_command("pfmp")[:-1], "web"]
        with (self.workdir / "logs" / "web.log").open("ab") as log:
            self.web = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
        return f"http://127.0.0.1:{self.web_port}"

    def start_students_api(self) -> dict[str, str]:
        """Start the students service's internal API unless it runs; returns the web's settings to reach it (a
        random service token, kept across web restarts)."""
        self.students_api_port = self.students_api_port or _free_port()
        self.students_api_token = self.students_api_token or secrets.token_urlsafe(24)
        if self.students_api is None or self.students_api.poll() is not None:
            env = {**self.env, "APLYPRO_STUDENTS_API_TOKEN": self.students_api_token,
                   "APLYPRO_STUDENTS_API_PORT": str(self.students_api_port),
                   "APLYPRO_STUDENTS_API_OPS_PORT": str(self.ops_ports.setdefault("students-api", _free_port()))}
            with (self.workdir / "logs" / "students-api.log").open("ab") as log:
                self.students_api = subprocess.Popen([*service_command("students")[:-1], "api"], env=env, stdout=log,
                                                     stderr=log, start_new_session=True)
        return {"APLYPRO_WEB_STUDENTS_API_URL": f"http://127.0.0.1:{self.students_api_port}",
                "APLYPRO_WEB_STUDENTS_API_TOKEN": self.students_api_token}

    def start_documents_api(self) -> None:
        """`aplypro-documents api` on a free port (kept across restarts), same storage as the service."""
        self.documents_api_port = self.documents_api_port or _free_port()
        env = {**self.env, "APLYPRO_DOCUMENTS_API_TOKEN": self.documents_token,
               "APLYPRO_DOCUMENTS_API_PORT": str(self.documents_api_port),
               "APLYPRO_DOCUMENTS_API_OPS_PORT": str(self.ops_ports.setdefault("documents-api", _free_port())),
               "APLYPRO_DOCUMENTS_BATCH_DIR": str(self.workdir / "documents-batches")}
        command = [*service_command("documents")[:-1], "api"]
        with (self.workdir / "logs" / "documents-api.log").open("ab") as log:
            self.documents_api = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)

    def ops_url(self, service: str) -> str | None:
        port = self.ops_ports.get(service)
        return None if port is None else f"http://127.0.0.1:{port}"

    def web_tier_ops(self) -> dict[str, str]:
        """The ops address of each web-tier process started (servicekit http_ops.py)."""
        return {name: url for name in WEB_TIER if (url := self.ops_url(name)) is not None}

    def describe(self) -> dict[str, object]:
        """What `aplypro status` (and an operator) needs to find this stack: servers, namespace, and each
        service's ops endpoints."""
        namespace = self.env.get("APLYPRO_TOPIC_NAMESPACE", "")
        services: dict[str, dict[str, object]] = {}
        for service in SERVICES:
            url = self.ops_url(service)
            process = self.processes.get(service)
            services[service] = {
                "pid": None if process is None else process.pid,
                "metrics": url and f"{url}/metrics", "healthz": url and f"{url}/healthz",
                "readyz": url and f"{url}/readyz"}
        return {
            "kafka_bootstrap_servers": self.env.get("KAFKA_BOOTSTRAP_SERVERS"),
            "database_url": self.env.get("DATABASE_URL"),
            "topic_namespace": namespace,
            "schema_prefix": namespace.replace(".", "_").replace("-", "_").lower(),
            "logs": str(self.workdir / "logs"),
            "services": services,
            # The web tier's ops ports (http_ops.py): metrics and probes apart from the pages and APIs.
            "web_tier": {name: {"metrics": f"{url}/metrics", "readyz": f"{url}/readyz"}
                         for name, url in self.web_tier_ops().items()},
        }

    def write_description(self) -> Path:
        """Write `describe()` to the workdir's stack.json (owner-only: it holds the database URL)."""
        path = self.workdir / STACK_FILE
        path.touch(mode=0o600)
        path.write_text(json.dumps(self.describe(), indent=2) + "\n", encoding="utf-8")
        return path

    def alive(self) -> dict[str, bool]:
        return {name: p.poll() is None for name, p in self.processes.items()}

    def kill_service(self, service: str) -> None:
        """SIGKILL: no clean stop, as a crash would."""
        process = self.processes.pop(service)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop_service(self, service: str, timeout: float = 20) -> None:
        process = self.processes.pop(service)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        for front in (self.web, self.students_api, self.documents_api):
            if front is not None and front.poll() is None:
                front.terminate()
                front.wait(20)
        for service in list(self.processes):
            if self.processes[service].poll() is None:
                self.processes[service].send_signal(signal.SIGTERM)
        for service in list(self.processes):
            self.stop_service(service)
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def run_command(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a service CLI command (`aplypro-students import-csv ...`) against this stack."""
        script = Path(sys.executable).parent / args[0]
        return subprocess.run([str(script), *args[1:]], env=self.env, capture_output=True, text=True,
                              check=False, timeout=300)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
