"""The browser tests' tools, shared by every test folder: Debian's chromium driven by Playwright, the web
application as its own process (`aplypro-pfmp web`), and axe-core (npm) run on each page visited (no serious or
critical violation). A test skips, with the reason, where chromium or npm is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

AXE_VERSION = "4.14.1"  # the npm version the checks were written against
CHROMIUM = os.environ.get("APLYPRO_CHROMIUM") or shutil.which("chromium")
# Where to save screenshots of the pages visited (docs/web/ for the README); unset: none are taken.
SCREENSHOTS = os.environ.get("APLYPRO_WEB_SCREENSHOTS")


@pytest.fixture(scope="session")
def axe_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """axe-core's axe.min.js from the npm registry (npm pack), once per run."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: axe-core cannot be fetched, the browser test does not run")
    folder = tmp_path_factory.mktemp("axe")
    subprocess.run([npm, "pack", "-q", f"axe-core@{AXE_VERSION}"], cwd=folder, check=True, capture_output=True,
                   timeout=120)
    with tarfile.open(folder / f"axe-core-{AXE_VERSION}.tgz") as archive:
        archive.extract("package/axe.min.js", folder, filter="data")
    return folder / "package" / "axe.min.js"


@contextmanager
def web_process(env: dict[str, str], log: Path, timeout: float = 60) -> Iterator[str]:
    """`aplypro-pfmp web` as a process with this environment (its port in APLYPRO_WEB_PORT), until it answers;
    yields its address and stops it after the block."""
    url = f"http://127.0.0.1:{env['APLYPRO_WEB_PORT']}"
    with log.open("wb") as out:  # the child keeps its own copy
        process = subprocess.Popen([str(Path(sys.executable).parent / "aplypro-pfmp"), "web"], env=env, stdout=out,
                                   stderr=out)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=1):  # noqa: S310
                    break
            except OSError:
                assert process.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, "the web app did not answer in time"
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(20)


class Axe:
    """axe-core run on each page visited: the serious and critical violations, by page name (a screenshot of
    each page too when APLYPRO_WEB_SCREENSHOTS is set)."""

    def __init__(self, script: Path) -> None:
        self.script = script
        self.violations: dict[str, list[str]] = {}

    async def check(self, page: Any, name: str) -> None:
        if SCREENSHOTS:
            await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
        await page.add_script_tag(path=str(self.script))
        result = await page.evaluate("async () => (await axe.run()).violations"
                                     ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)")
        if result:
            self.violations[name] = result


async def launch_chromium(playwright: Any) -> Any:
    return await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=["--no-sandbox", "--disable-dev-shm-usage"])
