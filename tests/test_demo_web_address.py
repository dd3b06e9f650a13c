"""`aplypro demo` ends with the web application's address, checked answering (issue 14: "the demo run ends with
that address"): the plain demo runs whole, as a user runs it (the suite's broker and database, its own
namespace); `--serve`'s ending is checked on its own code path, without a second run of the pipeline."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from aplypro_local.demo import ANSWERED, DemoFailed, web_answers
from aplypro_local.http_thread import serving
from aplypro_local.oidc import ACCOUNT_ROLES
from aplypro_local.school import SYGNE_UAI
from aplypro_local.stack import LocalStack
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

BIN = Path(sys.executable).parent
ADDRESS = re.compile(r"^web application: (http://127\.0\.0\.1:\d+) answered \((.+?)\)")


def non_empty_lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def stats_status(url: str) -> int | None:
    try:
        return httpx2.get(f"{url}/stats", timeout=5).status_code
    except httpx2.HTTPError:
        return None


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(480)
def test_the_plain_demo_ends_with_the_web_address_it_saw_answering(service_env: dict[str, str],
                                                                    tmp_path: Path) -> None:
    done = subprocess.run([str(BIN / "aplypro"), "demo", "--workdir", str(tmp_path / "demo"),
                           "--students-per-class", "2"], env={**os.environ, **service_env}, capture_output=True,
                          text=True, timeout=450, check=False)
    lines = non_empty_lines(done.stdout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert any(f"imported {SYGNE_UAI} from SYGNE (fake)" in line for line in lines)
    # Last: the address, what answered there, and how to keep it open
    last = ADDRESS.match(lines[-1])
    assert last is not None, lines[-5:]
    url, answered = last.groups()
    assert answered == ANSWERED
    assert "this demo's stack stops now" in lines[-1]
    assert "uv run aplypro demo --serve" in lines[-1]
    assert "uv run aplypro up" in lines[-1]
    # Just before it, the demo accounts with their roles
    accounts = lines[-1 - len(ACCOUNT_ROLES):-1]
    assert accounts == [f"  {account:<12} {role}" for account, role in ACCOUNT_ROLES.items()]
    # The demo said its stack stops: the address no longer answers
    assert stats_status(url) is None


@pytest.mark.e2e
@pytest.mark.slow
def test_serve_prints_the_address_last_once_it_answers_and_keeps_it_until_sigterm(service_env: dict[str, str],
                                                                                  tmp_path: Path) -> None:
    """What `aplypro demo --serve` runs after the pipeline, on a stack of the suite's servers."""
    script = ("import sys\nfrom pathlib import Path\nfrom aplypro_local.demo import serve_web_until_interrupted\n"
              "from aplypro_local.stack import LocalStack\n"
              "stack = LocalStack(Path(sys.argv[1]))\nstack.start_servers()\n"
              "try:\n    serve_web_until_interrupted(stack, stack.workdir)\nfinally:\n    stack.stop()\n")
    out = tmp_path / "serve.log"
    with out.open("wb") as log:
        serving = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "stack")],
                                   env={**os.environ, **service_env}, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (lines := non_empty_lines(out.read_text("utf-8", "replace"))) or not ADDRESS.match(lines[-1]):
            assert serving.poll() is None, out.read_text("utf-8", "replace")[-3000:]
            assert time.monotonic() < deadline, lines[-5:]
            time.sleep(0.5)
        url = ADDRESS.match(lines[-1]).group(1)  # type: ignore[union-attr]
        assert lines[-1].endswith("Ctrl-C stops everything")
        assert lines[-1 - len(ACCOUNT_ROLES):-1] == [f"  {a:<12} {r}" for a, r in ACCOUNT_ROLES.items()]
        time.sleep(2)
        assert stats_status(url) == 200  # still open after printing
    finally:
        serving.send_signal(signal.SIGTERM)
        try:
            serving.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(serving.pid, signal.SIGKILL)
            serving.wait()
    assert serving.returncode == 0, out.read_text("utf-8", "replace")[-3000:]
    assert stats_status(url) is None  # everything stopped with it


def test_a_web_application_that_stopped_fails_the_demo_at_once(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path)
    stack.web = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    stack.web.wait()
    started = time.monotonic()
    with pytest.raises(DemoFailed, match=r"the web application stopped \(exit 3\); see .*web\.log"):
        web_answers(stack, "http://127.0.0.1:9", "http://127.0.0.1:9", timeout=60)
    assert time.monotonic() - started < 5


def test_a_web_application_that_answers_with_errors_fails_the_demo_after_its_wait(tmp_path: Path) -> None:
    broken = Starlette(routes=[Route("/{path:path}", lambda _: PlainTextResponse("boom", status_code=500))])
    stack = LocalStack(tmp_path)
    stack.web = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with serving(broken, "broken web") as root, \
                pytest.raises(DemoFailed, match=r"did not answer in 1 s \(GET / answered 500\)"):
            web_answers(stack, root.rstrip("/"), "http://127.0.0.1:9", timeout=1)
    finally:
        stack.web.kill()
        stack.web.wait()
