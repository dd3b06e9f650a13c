"""The web application in a real browser: Debian's chromium driven by Playwright, the app served by its own
process (`aplypro-pfmp web`), the real OIDC provider and database. axe-core (npm) checks every page visited:
no serious or critical violation. Skipped, with the reason, where chromium or npm is missing."""

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

import asyncpg
import pytest
from aplypro_local.oidc import free_port
from aplypro_local.school import UAI

from .web_world import seed_student

pytestmark = [pytest.mark.integration, pytest.mark.slow]
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


@pytest.fixture
def web_url(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str,
            tmp_path: Path) -> Iterator[str]:
    """`aplypro-pfmp web` as a process on a free port, on this test's schema."""
    env = {**os.environ, "DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace,
           "APLYPRO_WEB_OIDC_ISSUER": oidc_issuer, "APLYPRO_WEB_PORT": str(free_port())}
    with web_process(env, tmp_path / "web.log") as url:
        yield url


async def test_the_director_logs_in_adds_a_pfmp_and_sees_it_listed_in_chromium(
        pool: asyncpg.Pool, web_url: str, axe_script: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium, see deploy/install-system-packages.sh)")
    from playwright.async_api import async_playwright

    student = await seed_student(pool, UAI, last_name="HADDAD")
    axe = Axe(axe_script)
    check_accessibility = axe.check

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            # bypass_csp: axe is injected as an inline script, which the app's CSP rightly forbids
            context = await browser.new_context(bypass_csp=True, locale="fr-FR")
            page = await context.new_page()
            await page.goto(web_url)
            await check_accessibility(page, "home")
            # Log in on the provider's page as the demo director
            await page.get_by_role("link", name="Se connecter").first.click()
            await page.get_by_role("button", name="directrice").click()
            await page.wait_for_url(f"{web_url}/etablissements/{UAI}*")
            await check_accessibility(page, "establishment")
            # Class, then student
            await page.get_by_role("link", name="TLE PRO").click()
            await check_accessibility(page, "class")
            await page.get_by_role("link", name="HADDAD Mehdi").click()
            await check_accessibility(page, "student")
            # Add a PFMP; the page after the POST lists it
            await page.get_by_label("Date de début").fill("2026-01-05")
            await page.get_by_label("Date de fin").fill("2026-01-30")
            await page.get_by_label("Nombre de jours").fill("18")
            await page.get_by_role("button", name="Ajouter la PFMP").click()
            await page.get_by_text("La PFMP est enregistrée.").wait_for()
            row = page.locator("#pfmps tbody tr").first
            assert "05/01/2026 → 30/01/2026" in await row.inner_text()
            assert "Saisie à valider" in (await row.text_content() or "")
            await check_accessibility(page, "student-with-pfmp")
            cookies = {c["name"]: c for c in await context.cookies()}
            session = cookies["aplypro_session"]
            assert session["httpOnly"]
            assert session["secure"]
            assert session["sameSite"] == "Lax"
        finally:
            await browser.close()
    assert axe.violations == {}
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pfmps WHERE student_id = $1", student.student_id) == 1
