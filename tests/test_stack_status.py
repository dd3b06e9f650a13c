"""`aplypro up` says where each service's metrics are, prints the web application's address and the demo
accounts last (issue 14's Quick start) and writes stack.json; `aplypro status` reads it and prints one table of
the running stack (real processes, broker and database)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aplypro_local.drill.lag import GROUPS
from aplypro_local.oidc import ACCOUNT_ROLES
from aplypro_local.school import UAI, generate_school
from aplypro_local.stack import SERVICES

BIN = Path(sys.executable).parent


def status_rows(workdir: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    out = subprocess.run([str(BIN / "aplypro"), "status", "--workdir", str(workdir), "--json"], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return list(json.loads(out.stdout))


def section(rows: list[dict[str, Any]], name: str) -> dict[str, dict[str, Any]]:
    return {r["item"]: r for r in rows if r["section"] == name}


def wait_for(check: Any, timeout: float, what: str, show: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out: {what}; {show() if show else ''}"
        time.sleep(1)
    return result


def _page(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url + "/", timeout=5) as answer:  # noqa: S310
            return str(answer.read().decode("utf-8"))
    except OSError:
        return None


@pytest.mark.e2e
@pytest.mark.slow
def test_up_writes_where_the_metrics_are_and_status_shows_the_stack(service_env: dict[str, str],
                                                                      tmp_path: Path) -> None:
    env = {**os.environ, **service_env}
    workdir = tmp_path / "stack"
    up_log = tmp_path / "up.log"
    with up_log.open("wb") as log:
        up = subprocess.Popen([str(BIN / "aplypro"), "up", "--workdir", str(workdir), "--no-sygne"], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        info = wait_for(lambda: (workdir / "stack.json").exists() and json.loads((workdir / "stack.json").read_text()),
                        60, "stack.json")
        assert info["topic_namespace"] == service_env["APLYPRO_TOPIC_NAMESPACE"]
        assert set(info["services"]) == set(SERVICES)
        # Every service serves its metrics where the file says, once started.
        rows = wait_for(lambda: (r := status_rows(workdir, env))
                        and all(v["value"] == "ready" for v in section(r, "service").values()) and r,
                        120, "every service ready")
        for service in SERVICES:
            metrics_url = info["services"][service]["metrics"]
            assert section(rows, "service")[service]["detail"] == metrics_url
            with urllib.request.urlopen(metrics_url, timeout=5) as answer:  # noqa: S310
                assert b"aplypro_outbox_depth" in answer.read()
        assert set(section(rows, "consumer lag")) == set(GROUPS)
        # The web application's address, printed last, answers with the login button
        web_line = wait_for(lambda: next((line for line in up_log.read_text("utf-8", "replace").splitlines()
                                          if line.startswith("web application: ")), None), 60, "the web address")
        web_url = web_line.removeprefix("web application: ").strip()
        assert web_url.startswith("http://")
        home = wait_for(lambda: _page(web_url), 60, "the web application answering")
        assert "Se connecter" in home
        assert set(section(rows, "outbox depth")) == set(SERVICES)
        assert "documents queue" in {r["section"] for r in rows}
        assert "payment requests" in {r["section"] for r in rows}

        school = generate_school(tmp_path / "school", students_per_class=2)
        for args in (["load-establishments", str(school.establishments)],
                     ["load-mefs", str(school.mefs), "--school-year", "2025"],
                     ["import-csv", str(school.students), "--uai", UAI]):
            done = subprocess.run([str(BIN / "aplypro-students"), *args], env=env, capture_output=True,
                                  text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stderr[-2000:]
        # A school's students flow through: the groups catch up, the outboxes empty, the DAs are issued
        # (the class without allowance keeps its student's DA queued: no barème to print).
        rows = wait_for(lambda: (r := status_rows(workdir, env))
                        and all(v["value"] == "0" for v in section(r, "consumer lag").values())
                        and all(v["value"] == "0" for v in section(r, "outbox depth").values())
                        and section(r, "documents issued").get("attribution", {}).get("value")
                        == str(school.decision_count) and r, 180, "lag and outboxes at 0, DAs issued",
                        lambda: [r for r in status_rows(workdir, env) if r["value"] not in ("0", "ready")])
        waiting = school.student_count - school.decision_count
        assert int(section(rows, "documents queue").get("attribution", {"value": "0"})["value"]) <= waiting

        table = subprocess.run([str(BIN / "aplypro"), "status", "--workdir", str(workdir)], env=env,
                               capture_output=True, text=True, timeout=120, check=False)
        assert table.returncode == 0, table.stderr[-2000:]
        for words in ("consumer lag", "outbox depth", "documents queue", "documents issued", "payment requests",
                      *SERVICES):
            assert words in table.stdout
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
    printed = up_log.read_text(encoding="utf-8", errors="replace")
    for service in SERVICES:
        assert info["services"][service]["metrics"] in printed
    for account, role in ACCOUNT_ROLES.items():  # the demo accounts, each with its role
        assert f"{account:<12} {role}" in printed
    before_stop = printed[:printed.index(web_line)].splitlines()
    assert all(f"  {account:<12} {role}" in before_stop for account, role in ACCOUNT_ROLES.items())
    assert up.returncode == 0, printed[-2000:]


def test_status_without_a_stack_says_how_to_start_one(tmp_path: Path) -> None:
    out = subprocess.run([str(BIN / "aplypro"), "status", "--workdir", str(tmp_path)], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "aplypro up" in out.stderr
