"""The web application in a real browser: Debian's chromium driven by Playwright, the app served by its own
process (`aplypro-pfmp web`), the real OIDC provider and database. axe-core (npm) checks every page visited:
no serious or critical violation. Skipped, with the reason, where chromium or npm is missing (the tools are
aplypro_local.browser's, shared with tests/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aplypro_local.browser import CHROMIUM, Axe, axe_script, launch_chromium, web_process
from aplypro_local.oidc import free_port
from aplypro_local.school import UAI

from .web_world import seed_student

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["CHROMIUM", "Axe", "axe_script", "launch_chromium", "web_process"]  # for the other browser tests


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
