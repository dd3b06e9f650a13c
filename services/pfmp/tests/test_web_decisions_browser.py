"""The list of DAs to abrogate and a stale DA in a real browser (Debian's chromium, Playwright), the app served by
its own process, axe-core on every page visited: no serious or critical violation. Skipped, with the reason,
where chromium or npm is missing (fixtures of test_web_browser)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from aplypro_local.school import UAI

from .test_web_browser import CHROMIUM, Axe, axe_script, launch_chromium, web_url
from .test_web_decisions import closed_in_year
from .test_web_stale_decisions import T0, Student
from .web_world import seed_student

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["axe_script", "web_url"]  # the fixtures this module uses, imported from test_web_browser


async def test_the_director_abrogates_from_the_list_and_sees_a_stale_da_in_chromium(
        pool: asyncpg.Pool, web_url: str, axe_script: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium, see deploy/install-system-packages.sh)")
    from playwright.async_api import async_playwright

    moved = await seed_student(pool, UAI, last_name="CHANGECLASSE")
    earlier = await closed_in_year(pool, moved)
    stale = Student(pool)
    await stale.registered(T0)
    await stale.schooling(T0)
    await stale.da_issued(T0 + timedelta(days=1))
    await stale.registered(T0 + timedelta(days=2), city="Brest")
    axe = Axe(axe_script)

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context(bypass_csp=True, locale="fr-FR")  # axe is an inline script
            page = await context.new_page()
            await page.goto(web_url)
            await page.get_by_role("link", name="Se connecter").first.click()
            await page.get_by_role("button", name="directrice").click()
            await page.wait_for_url(f"{web_url}/etablissements/{UAI}*")
            await page.get_by_role("link", name="Décisions à abroger").click()
            await page.get_by_role("heading", name="Décisions d'attribution à abroger").wait_for()
            await axe.check(page, "abrogeable-decisions")
            row = page.locator(f'tr[data-schooling="{earlier}"]')
            # force: the DSFR draws its box (the label) over the input itself
            await row.get_by_label("Je confirme l'abrogation").check(force=True)
            await row.get_by_label("Je suis le représentant légal").check(force=True)
            await row.get_by_role("button", name="Abroger la décision").click()
            await page.get_by_text("L'abrogation est demandée").wait_for()
            assert "Abrogation demandée le" in (await row.text_content() or "")
            await axe.check(page, "abrogeable-decisions-asked")
            await page.goto(f"{web_url}/etablissements/{UAI}/eleves/{stale.student_id}")
            decisions = await page.locator("#decisions").text_content() or ""  # badges are upper-cased by CSS
            assert "l'identité ou l'adresse de l'élève a changé" in decisions
            await axe.check(page, "student-stale-decision")
            await page.goto(f"{web_url}/etablissements/{UAI}/annees/2025/classes/TLE PRO")
            assert "à rééditer" in (await page.locator("#decisions-panel").text_content() or "")
            await axe.check(page, "class-stale-decision")
        finally:
            await browser.close()
    assert axe.violations == {}
