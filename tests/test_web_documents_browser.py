"""The two pages that need the documents service, in a real browser (Debian's chromium, Playwright) with axe-core
on each (no serious or critical violation): the ASP agent's dossier page (found by DA number, its état liquidatif
downloaded, its regeneration refused with the reason) and a class's download-progress page (while the zip is being prepared, then
ready, the zip downloaded). The web application and `aplypro-documents api` run as their own processes on the
real database; the DAs and the état liquidatif are rendered by documents' issuer (test_web_documents' set-up).
Skipped, with the reason, where chromium or npm is missing."""

from __future__ import annotations

import errno
import os
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_local.browser import CHROMIUM, Axe, axe_script, launch_chromium, web_process
from aplypro_local.oidc import free_port
from aplypro_local.school import UAI

from .test_web_documents import TOKEN, documents_api, oidc_issuer, pools, school

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["axe_script", "documents_api", "oidc_issuer", "pools", "school"]  # fixtures, imported to be found


@pytest.fixture
def web_url(database_url: str, namespace: str, oidc_issuer: str, documents_api: str, tmp_path: Path) -> Iterator[str]:
    """`aplypro-pfmp web` as a process on a free port, on this test's schema, calling the documents API."""
    env = {**os.environ, "DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace,
           "APLYPRO_WEB_OIDC_ISSUER": oidc_issuer, "APLYPRO_WEB_PORT": str(free_port()),
           "APLYPRO_WEB_DOCUMENTS_URL": documents_api, "APLYPRO_WEB_DOCUMENTS_TOKEN": TOKEN}
    with web_process(env, tmp_path / "web.log", timeout=120) as url:
        yield url


@contextmanager
def held_back(pdf: Path) -> Iterator[Any]:
    """The stored PDF replaced by a named pipe: a batch that reads it waits (its page shows the progress) until
    `release()` hands it the bytes; the file is put back after the block."""
    data = pdf.read_bytes()
    aside = pdf.with_name(pdf.name + ".aside")
    os.replace(pdf, aside)
    os.mkfifo(pdf)

    def release() -> None:
        try:
            fifo = os.open(pdf, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:  # ENXIO: no reader waits, the batch did not reach this PDF
            raise AssertionError(f"the batch is not reading the held-back PDF ({errno.errorcode.get(exc.errno or 0, exc)})") from None
        os.set_blocking(fifo, True)
        with os.fdopen(fifo, "wb") as out:
            out.write(data)

    try:
        yield release
    finally:
        os.replace(aside, pdf)


async def test_the_asp_dossier_and_the_download_progress_pages_pass_axe_in_chromium(
        web_url: str, school: dict[str, Any], pools: dict[str, asyncpg.Pool], axe_script: Path,
        tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium, see deploy/install-system-packages.sh)")
    from playwright.async_api import Browser, Page, async_playwright

    eluard = school["eluard"]
    _, da_number = eluard["documents"]["attribution"]
    durand_da, _ = school["durand"]["documents"]["attribution"]
    async with pools["documents"].acquire() as conn:
        durand_pdf = Path(await conn.fetchval("SELECT storage_ref FROM documents WHERE document_id = $1", durand_da))
    axe = Axe(axe_script)
    check_accessibility = axe.check

    async def logged_in(browser: Browser, account: str) -> Page:
        # bypass_csp: axe is injected as an inline script, which the app's CSP rightly forbids
        context = await browser.new_context(bypass_csp=True, locale="fr-FR", accept_downloads=True)
        page = await context.new_page()
        await page.goto(web_url)
        await page.get_by_role("link", name="Se connecter").first.click()
        await page.get_by_role("button", name=account).click()
        await page.wait_for_load_state()
        return page

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            # The ASP agent finds the dossier by its DA number, sees it, downloads its état liquidatif
            page = await logged_in(browser, "agent-asp")
            await page.wait_for_url(f"{web_url}/asp")
            await page.get_by_label("Numéro de décision d'attribution").fill(da_number)
            await page.get_by_role("button", name="Rechercher").click()
            await page.wait_for_url(f"{web_url}/asp/dossiers/{eluard['schooling_id']}")
            assert "Éluard Anaïs" in await page.inner_text("main")
            await check_accessibility(page, "asp-dossier")
            async with page.expect_download() as downloading:
                await page.get_by_role("link", name=re.compile(r"^État liquidatif")).click()
            liquidation = await downloading.value
            assert liquidation.suggested_filename == f"etat_liquidatif_{da_number}01.pdf"
            assert Path(await liquidation.path()).read_bytes().startswith(b"%PDF-")
            # Its regeneration asked: refused (pfmp knows no payment request here), the page says why
            await page.get_by_role("button", name="Régénérer l'état liquidatif").click()
            await page.get_by_role("alert").wait_for()
            assert "état liquidatif" in await page.get_by_role("alert").inner_text()
            await check_accessibility(page, "asp-dossier-refused")
            # Staff ask for a class's zip: the progress while one PDF is held back, then the links
            page = await logged_in(browser, "directrice")
            await page.wait_for_url(f"{web_url}/etablissements/{UAI}*")
            await page.get_by_role("link", name="Télécharger les décisions d'attribution").click()
            with held_back(durand_pdf) as release:
                await page.get_by_role("button", name="Décisions de la classe TLE PRO").click()
                await page.wait_for_url(re.compile(rf"{web_url}/etablissements/{UAI}/telechargements/[0-9a-f-]+$"))
                await page.evaluate("() => { window.notReloaded = true; }")
                # The count, unknown at first (`0 / …`), comes with the next update
                await page.get_by_test_id("progress").get_by_text(re.compile(r"^Préparation : [01] / 2 décisions\.")
                                                                  ).wait_for(timeout=30_000)
                assert await page.locator("progress").count() == 1
                await check_accessibility(page, "download-progress")
                release()
                await page.get_by_text("2 décisions prêtes").wait_for(timeout=60_000)
            assert await page.evaluate("() => window.notReloaded === true")  # updated in place: no reload
            await check_accessibility(page, "download-ready")
            async with page.expect_download() as downloading:
                await page.get_by_role("link", name=re.compile(r"\.zip")).click()
            archive = await downloading.value
            assert re.fullmatch(rf"{UAI}_TLE-PRO_décisions_d_attribution_\d{{4}}-\d{{2}}-\d{{2}}\.zip",
                                archive.suggested_filename)
            with zipfile.ZipFile(await archive.path()) as zipped:
                assert len(zipped.namelist()) == 2
        finally:
            await browser.close()
    assert axe.violations == {}
