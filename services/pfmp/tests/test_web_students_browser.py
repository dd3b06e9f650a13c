"""The RIB form in a real browser (Debian's chromium, Playwright): a wrong IBAN is flagged as it is typed and
refused by the server with its message, then a right one is recorded by the students service and shown at once;
the search and dashboard pages too. axe-core checks every page visited. Skipped where chromium or npm is
missing (test_web_browser's fixtures)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aplypro_local.oidc import free_port
from aplypro_local.school import UAI

from .students_api_world import StudentsApi, students_api
from .test_web_browser import CHROMIUM, Axe, axe_script, launch_chromium, web_process
from .web_world import seed_student

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["axe_script", "students_api"]  # fixtures, imported to be found
WRONG_IBAN, GOOD_IBAN = "FR76 3000 6000 0112 3456 7890 188", "FR76 3000 6000 0112 3456 7890 189"


@pytest.fixture
def web_url(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str, students_api: StudentsApi,
            tmp_path: Path) -> Iterator[str]:
    """`aplypro-pfmp web` as a process on a free port, on this test's schema, calling the students API."""
    env = {**os.environ, "DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace,
           "APLYPRO_WEB_OIDC_ISSUER": oidc_issuer, "APLYPRO_WEB_PORT": str(free_port()),
           "APLYPRO_WEB_STUDENTS_API_URL": students_api.url,
           "APLYPRO_WEB_STUDENTS_API_TOKEN": students_api.token.get_secret_value()}
    log = tmp_path / "web.log"
    with web_process(env, log, timeout=120) as url:
        yield url
    for secret in ("30006000", "3000 6000"):  # no IBAN in the web app's log
        assert secret not in log.read_text(errors="replace")


async def test_a_wrong_iban_is_flagged_and_refused_then_a_right_one_is_shown_in_chromium(
        pool: asyncpg.Pool, web_url: str, axe_script: Path, students_api: StudentsApi) -> None:
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium, see deploy/install-system-packages.sh)")
    from playwright.async_api import async_playwright

    student = await seed_student(pool, UAI, last_name="HADDAD")
    await students_api.enrol(student, UAI)
    axe = Axe(axe_script)
    check_accessibility = axe.check

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context(bypass_csp=True, locale="fr-FR")
            page = await context.new_page()
            await page.goto(web_url)
            await page.get_by_role("link", name="Se connecter").first.click()
            await page.get_by_role("button", name="personnel").click()
            await page.wait_for_url(f"{web_url}/etablissements/{UAI}*")
            # The dashboard and the search, then the student found
            await page.get_by_role("link", name="Tableau de bord").click()
            await page.locator("#panels").wait_for()
            await check_accessibility(page, "dashboard")
            await page.get_by_role("link", name="Rechercher un élève").first.click()
            await page.get_by_label("Nom ou prénom de l'élève").fill("méhdi hâddad")
            await page.get_by_role("button", name="Rechercher").click()
            await page.get_by_text("1 élève(s) trouvé(s)").wait_for()
            await check_accessibility(page, "search")
            await page.get_by_role("link", name="HADDAD Mehdi").click()
            await page.get_by_role("link", name="Coordonnées bancaires").click()
            await check_accessibility(page, "rib")
            # A wrong check digit is flagged as it is typed ...
            await page.get_by_label("Nom du titulaire").fill("HADDAD Mehdi")
            await page.get_by_label("BIC").fill("AGRIFRPP")
            await page.get_by_label("IBAN").press_sequentially(WRONG_IBAN)
            message = page.locator("#iban-message")
            await message.get_by_text("La clé de contrôle de l'IBAN est fausse").wait_for()
            # ... and refused by the server if sent anyway, the form kept
            await page.get_by_role("button", name="Enregistrer les coordonnées bancaires").click()
            await page.get_by_text("Les coordonnées n'ont pas été enregistrées").wait_for()
            assert "La clé de contrôle de l'IBAN est fausse" in await message.inner_text()
            await check_accessibility(page, "rib-refused")
            # The right one: the message goes as it is typed, and the page after the POST shows the RIB
            await page.get_by_label("IBAN").fill("")
            await page.get_by_label("IBAN").press_sequentially(GOOD_IBAN)
            assert await message.is_hidden()
            await page.get_by_role("button", name="Enregistrer les coordonnées bancaires").click()
            await page.get_by_text("Les coordonnées bancaires sont enregistrées.").wait_for()
            assert "FR76 •••• •••• •••• •••• •••• 189" in await page.locator("#current-rib").inner_text()
            await check_accessibility(page, "rib-recorded")
        finally:
            await browser.close()
    assert axe.violations == {}
    stored = await students_api.fetch("SELECT recorded_by FROM ribs WHERE student_id = $1", student.student_id)
    assert [r["recorded_by"] for r in stored] == ["personnel"]
