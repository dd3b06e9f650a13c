"""The staff's form pages the other browser tests do not visit, in a real browser (Debian's chromium, Playwright),
the app as its own process, the real OIDC provider and database: the PFMP edit page, a class period's day
counts, the class's bulk RIB entry, hiding students, the payments to act on, the academic home of the national admin, and the page a
user with no role lands on. axe-core on each: no serious or critical violation. Skipped, with the reason, where
chromium or npm is missing (fixtures of test_web_browser.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aplypro_local.school import UAI

from .test_web_browser import CHROMIUM, Axe, axe_script, launch_chromium, web_url
from .test_web_other_roles import pfmp
from .test_web_payments_page import blocked
from .web_world import seed_student

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["axe_script", "web_url"]  # the fixtures this module's test uses


async def test_the_staff_form_pages_the_no_role_page_and_the_national_home_pass_axe_in_chromium(
        pool: asyncpg.Pool, web_url: str, axe_script: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium, see deploy/install-system-packages.sh)")
    from playwright.async_api import Browser, Page, async_playwright

    first = await seed_student(pool, UAI, last_name="HADDAD", payable=False)  # no RIB: on the bulk RIB page
    second = await seed_student(pool, UAI, last_name="BERTIN", payable=False)
    pfmp_id = await pfmp(pool, first, "completed", date(2026, 1, 5), date(2026, 1, 30))
    await pfmp(pool, second, "completed", date(2026, 1, 5), date(2026, 1, 30))
    await blocked(pool, await seed_student(pool, UAI, class_label="1RE PRO"), "missing_attributive_decision")
    axe = Axe(axe_script)
    check_accessibility = axe.check

    async def logged_in(browser: Browser, account: str) -> Page:
        # bypass_csp: axe is injected as an inline script, which the app's CSP rightly forbids
        context = await browser.new_context(bypass_csp=True, locale="fr-FR")
        page = await context.new_page()
        await page.goto(web_url)
        await page.get_by_role("link", name="Se connecter").first.click()
        await page.get_by_role("button", name=account).click()
        await page.wait_for_load_state()
        return page

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await logged_in(browser, "personnel")
            await page.wait_for_url(f"{web_url}/etablissements/{UAI}*")
            await page.goto(f"{web_url}/etablissements/{UAI}/pfmps/{pfmp_id}/modification")
            assert await page.get_by_label("Nombre de jours").count() == 1
            await check_accessibility(page, "pfmp-edit")
            # From the class page: the period's day counts, the bulk RIB entry, hiding students
            class_url = f"{web_url}/etablissements/{UAI}/annees/2025/classes/TLE PRO"
            await page.goto(class_url)
            await page.get_by_role("link", name="Du 05/01/2026 au 30/01/2026 (2 élève(s))").click()
            assert "BERTIN" in await page.inner_text("main")
            await check_accessibility(page, "day-counts")
            await page.goto(class_url)
            await page.get_by_role("link", name="Saisir les coordonnées bancaires de la classe").click()
            assert "HADDAD" in await page.inner_text("main")
            await check_accessibility(page, "ribs-bulk")
            await page.goto(class_url)
            await page.get_by_role("link", name="Masquer ou réintégrer des élèves").click()
            assert "BERTIN" in await page.inner_text("main")
            await check_accessibility(page, "hidden")
            # The dashboard's link to the payments to act on
            await page.goto(f"{web_url}/etablissements/{UAI}/tableau-de-bord")
            await page.get_by_role("link", name="Paiements à traiter : bloqués, rejetés ou en échec").click()
            assert "Éditez la décision d'attribution" in await page.inner_text("main")
            await check_accessibility(page, "payments")
            # The national admin's home: every academy
            page = await logged_in(browser, "national")
            await page.wait_for_url(f"{web_url}/academie")
            await check_accessibility(page, "academic-home")
            # A user with no role: the refusal says why
            page = await logged_in(browser, "sans-role")
            assert "aucun établissement" in await page.inner_text("main")
            await check_accessibility(page, "refused")
        finally:
            await browser.close()
    assert axe.violations == {}
