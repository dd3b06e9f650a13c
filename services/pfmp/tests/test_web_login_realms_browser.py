"""The login realms in a real browser (Debian's chromium, Playwright): `aplypro-pfmp web` as its own process
configured by environment variables only, two real OIDC provider processes (the schools' and the ASP's). The
login page's one button per realm, the ASP agent's way in, and the refusal of an ASP e-mail arriving through the
school realm; axe-core on both pages. Skipped, with the reason, where chromium or npm is missing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aplypro_local.oidc import free_port

from .test_web_browser import CHROMIUM, Axe, axe_script, launch_chromium, web_process
from .test_web_login_realms import providers

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["axe_script", "providers"]  # the fixtures this module's test uses


@pytest.fixture
def realms_web_url(pool: asyncpg.Pool, database_url: str, namespace: str, providers: dict[str, str],
                   tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace,
           "APLYPRO_WEB_PORT": str(free_port()),
           "APLYPRO_WEB_OIDC_REALMS": "fim,asp",
           "APLYPRO_WEB_OIDC_REALM__FIM__KIND": "school",
           "APLYPRO_WEB_OIDC_REALM__FIM__ISSUER": providers["school"],
           "APLYPRO_WEB_OIDC_REALM__FIM__CLIENT_ID": "aplypro-fim",
           "APLYPRO_WEB_OIDC_REALM__FIM__CLIENT_SECRET": "fim-secret",
           "APLYPRO_WEB_OIDC_REALM__FIM__LABEL": "Éducation nationale, Mer, Armées",
           "APLYPRO_WEB_OIDC_REALM__ASP__KIND": "asp",
           "APLYPRO_WEB_OIDC_REALM__ASP__ISSUER": providers["asp"],
           "APLYPRO_WEB_OIDC_REALM__ASP__CLIENT_ID": "aplypro-asp",
           "APLYPRO_WEB_OIDC_REALM__ASP__CLIENT_SECRET": "asp-secret"}
    with web_process(env, tmp_path / "web.log") as url:
        yield url


async def test_one_button_per_realm_and_each_realm_grants_only_its_roles_in_chromium(
        realms_web_url: str, axe_script: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium, see deploy/install-system-packages.sh)")
    from playwright.async_api import async_playwright

    axe = Axe(axe_script)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            # bypass_csp: axe is injected as an inline script, which the app's CSP rightly forbids
            context = await browser.new_context(bypass_csp=True, locale="fr-FR")
            page = await context.new_page()
            await page.goto(realms_web_url)
            await page.get_by_role("link", name="Se connecter").first.click()
            await page.wait_for_url(f"{realms_web_url}/connexion")
            await axe.check(page, "login-realms")
            await page.get_by_role("link", name="Agents de l'ASP").click()
            await page.get_by_role("button", name="agent-asp", exact=True).click()
            await page.wait_for_url(f"{realms_web_url}/asp")
            assert "Numéro de décision d'attribution" in await page.inner_text("main")
            await context.close()
            # The same e-mail through the school realm: refused, with the way to the other realms
            context = await browser.new_context(bypass_csp=True, locale="fr-FR")
            page = await context.new_page()
            await page.goto(f"{realms_web_url}/connexion")
            await page.get_by_role("link", name="Éducation nationale, Mer, Armées").click()
            await page.get_by_role("button", name="agent-asp", exact=True).click()
            await page.get_by_role("heading", name="Accès refusé").wait_for()
            assert "Éducation nationale, Mer, Armées" in await page.inner_text("main")
            await axe.check(page, "refused-realm")
            await page.get_by_role("link", name="Choisir un autre espace de connexion").click()
            await page.wait_for_url(f"{realms_web_url}/connexion")
        finally:
            await browser.close()
    assert axe.violations == {}
