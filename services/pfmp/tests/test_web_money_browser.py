"""The student page's payments and the withdrawal's confirmation step in a real browser (Debian's chromium,
Playwright), the app served by its own process, axe-core on every page visited: no serious or critical
violation. Skipped, with the reason, where chromium or npm is missing (fixtures of test_web_browser)."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts import PaymentRequested, PaymentRequestHeld
from aplypro_local.school import UAI
from aplypro_pfmp.service_layer import facts

from .test_web_browser import CHROMIUM, Axe, axe_script, launch_chromium, web_url
from .web_world import seed_student

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["axe_script", "web_url"]  # the fixtures this module uses, imported from test_web_browser


async def test_the_director_sees_a_blocked_payment_in_french_and_withdraws_a_da_after_confirming_in_chromium(
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
            context = await browser.new_context(bypass_csp=True, locale="fr-FR")  # axe is an inline script
            page = await context.new_page()
            await page.goto(web_url)
            await page.get_by_role("link", name="Se connecter").first.click()
            await page.get_by_role("button", name="directrice").click()
            await page.wait_for_url(f"{web_url}/etablissements/{UAI}*")
            await page.goto(f"{web_url}/etablissements/{UAI}/eleves/{student.student_id}")
            await page.get_by_label("Date de début").fill("2026-01-05")
            await page.get_by_label("Date de fin").fill("2026-01-30")
            await page.get_by_label("Nombre de jours").fill("18")
            await page.get_by_role("button", name="Ajouter la PFMP").click()
            await page.get_by_text("La PFMP est enregistrée.").wait_for()
            # The calculator requests the payment, the gateway holds it back: the consumer's facts
            pfmp_id = await pool.fetchval("SELECT pfmp_id FROM pfmps WHERE student_id = $1", student.student_id)
            request_id = uuid.uuid4()
            async with pool.acquire() as conn, conn.transaction():
                await facts.on_payment_requested(conn, PaymentRequested(
                    producer="calculator", payment_request_id=request_id, pfmp_id=pfmp_id,
                    schooling_id=student.schooling_id, student_id=student.student_id, amount_cents=45000,
                    day_count=18, pfmp_rank=1, version=1))
                await facts.on_payment_held(conn, PaymentRequestHeld(
                    producer="asp-gateway", payment_request_id=request_id, pfmp_id=pfmp_id,
                    student_id=student.student_id, reasons=("rib",), version=1))
            await page.reload()
            payments = await page.locator("#payments").text_content() or ""  # badges are upper-cased by CSS
            assert "Bloquée" in payments
            assert "450,00" in payments
            assert "Les coordonnées bancaires sont invalides (IBAN, zone SEPA, BIC ou titulaire)." in payments
            assert "À faire : Saisissez des coordonnées bancaires corrigées." in payments
            await check_accessibility(page, "student-payments")
            # Withdraw the DA: a confirmation page first, nothing happens until it is confirmed
            await page.get_by_role("link", name="Retirer la décision…").click()
            await page.get_by_role("heading", name="Retirer la décision d'attribution").wait_for()
            await check_accessibility(page, "withdrawal-confirmation")
            # force: the DSFR draws its box (the label) over the input itself
            await page.get_by_label("L'élève n'est jamais venu en cours").check(force=True)
            await page.get_by_label("Je suis le représentant légal").check(force=True)
            await page.get_by_label("Je confirme le retrait").check(force=True)
            await page.get_by_role("button", name="Retirer la décision").click()
            await page.get_by_text("Le retrait est demandé").wait_for()
            assert "retrait demandé" in (await page.locator("#decisions").text_content() or "")
            await check_accessibility(page, "student-withdrawal-asked")
        finally:
            await browser.close()
    assert axe.violations == {}
    assert await pool.fetchval("SELECT user_id FROM pfmp_actions WHERE action = 'withdraw_decision'") == "directrice"
