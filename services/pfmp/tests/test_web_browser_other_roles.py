"""The academic, national (its academic invitations too), ASP, public and download pages in a real browser
(Debian's chromium, Playwright), the app as its own process, the real OIDC provider and database; axe-core on
every page visited: no serious or critical violation. Skipped, with the reason, where chromium or npm is missing
(fixtures of test_web_browser.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aplypro_local.school import UAI
from aplypro_pfmp.adapters import snapshots_sql

from .test_web_browser import CHROMIUM, Axe, axe_script, launch_chromium, web_url
from .test_web_other_roles import pfmp
from .web_world import seed_student

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["axe_script", "web_url"]  # the fixtures this module's test uses


async def test_academic_asp_public_and_download_pages_pass_axe_in_chromium(
        pool: asyncpg.Pool, web_url: str, axe_script: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium, see deploy/install-system-packages.sh)")
    from playwright.async_api import Browser, Page, async_playwright

    seeded = await seed_student(pool, UAI, last_name="HADDAD", academy="14")
    await pfmp(pool, seeded, "validated", date(2026, 1, 5), date(2026, 1, 30), request_state="paid")
    async with pool.acquire() as conn, conn.transaction():  # two weekly reports
        await snapshots_sql.take(conn, date(2026, 6, 6))
        await snapshots_sql.take(conn, date(2026, 6, 13))
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
            public = await (await browser.new_context(bypass_csp=True, locale="fr-FR")).new_page()
            await public.goto(f"{web_url}/stats")
            assert "élèves payés" in await public.inner_text("main")
            await check_accessibility(public, "stats")
            # The academic user: the academy's establishments, one establishment, one class
            page = await logged_in(browser, "academique")
            await page.wait_for_url(f"{web_url}/academie/14*")
            await check_accessibility(page, "academy")
            await page.get_by_role("link", name=UAI).click()
            await check_accessibility(page, "academic-establishment")
            await page.get_by_role("link", name="TLE PRO").click()
            assert "HADDAD Mehdi" in await page.inner_text("main")
            await check_accessibility(page, "academic-class")
            await page.goto(f"{web_url}/academie/14")
            await page.get_by_role("link", name="Rapports hebdomadaires et leur évolution").click()
            await check_accessibility(page, "academic-reports")
            await page.get_by_role("link", name="Rapport du 13/06/2026").click()
            assert "évolution depuis le 06/06/2026" in await page.inner_text("main")
            await check_accessibility(page, "academic-report")
            # The national admin: every academy, the national view and its export
            page = await logged_in(browser, "national")
            await page.wait_for_url(f"{web_url}/academie")
            await page.get_by_role("link", name="Vue nationale et exports").click()
            await page.wait_for_url(f"{web_url}/national*")
            assert "Exporter les indicateurs" in await page.inner_text("main")
            await check_accessibility(page, "national")
            # Its academic users: invite one, then the list with the revocation button
            await page.get_by_role("link", name="Inviter ou retirer des utilisateurs académiques").click()
            await check_accessibility(page, "academic-invitations")
            await page.get_by_label("Adresse électronique").fill("inspection@ac-demo.fr")
            await page.get_by_label("Académie").select_option("14")
            await page.get_by_role("button", name="Inviter").click()
            await page.get_by_text("L'invitation est enregistrée").wait_for()
            assert "inspection@ac-demo.fr" in await page.inner_text("#invitations")
            await check_accessibility(page, "academic-invited")
            # The ASP agent: the search, and what a malformed number says
            page = await logged_in(browser, "agent-asp")
            await page.wait_for_url(f"{web_url}/asp")
            await check_accessibility(page, "asp-search")
            await page.get_by_label("Numéro de décision d'attribution").fill("ABC")
            await page.get_by_role("button", name="Rechercher").click()
            await page.get_by_text("18 ou 19 caractères").first.wait_for()
            await check_accessibility(page, "asp-search-refused")
            # Staff: the downloads page
            page = await logged_in(browser, "directrice")
            await page.wait_for_url(f"{web_url}/etablissements/{UAI}*")
            await page.get_by_role("link", name="Télécharger les décisions d'attribution").click()
            await check_accessibility(page, "downloads")
        finally:
            await browser.close()
    assert axe.violations == {}
