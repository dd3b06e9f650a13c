"""The issue's browser scenario through the whole local stack (aplypro_local.stack.LocalStack: the five services,
the students' and documents' APIs, the web application, the real OIDC provider, the fake ASP over SFTP), driven
in Debian's chromium with axe-core on every page visited:

the director logs in, enters a RIB with a wrong IBAN (the error is shown) then a right one, adds a PFMP,
validates it, sees its amount and its payment request reach `paid` through the fake ASP, downloads the DA (a
PDF), sees the amount paid on the dashboard and on /stats; then the director of another school gets 404 for
that student.

SLOW: every service runs as its own process and the payment goes through the asp-gateway's file, the fake ASP's
integration and payments returns (fetched by `aplypro-asp-gateway poll`, as the demo does): several minutes on a
loaded machine. Each wait is generous and says what it waited for. Skipped where chromium or npm is missing.
"""

from __future__ import annotations

import csv
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aplypro_local.fake_asp.in_thread import FakeAspInThread
from aplypro_local.oidc import OidcProvider
from aplypro_local.school import UAI, generate_school
from aplypro_local.stack import LocalStack

from .test_web_browser import CHROMIUM, Axe, axe_script, launch_chromium

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]
__all__ = ["axe_script"]  # a fixture, imported to be found
WRONG_IBAN, GOOD_IBAN = "FR76 3000 6000 0112 3456 7890 188", "FR76 3000 6000 0112 3456 7890 189"
# The TLE PRO MELEC barème (MEF 2473121133, 2025-26): 20 € a day; 18 days → 360 €.
DAYS, EXPECTED_AMOUNT = 18, "360,00\u00a0€"
WAIT_S = 600  # each stage of the payment through the stack, on a machine shared with other work


@dataclass(frozen=True)
class Stack:
    web_url: str
    stack: LocalStack
    asp: FakeAspInThread
    last_name: str
    first_name: str


@pytest.fixture
def full_stack(service_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    """The local stack with the web application, the OIDC provider and the fake ASP; one generated school whose
    students, establishments and MEFs are imported (no RIB, no PFMP: the director enters them)."""
    asp = FakeAspInThread(tmp_path / "fake-asp")
    # A file as soon as a request is ready; the local stack opens the send schedule every day at every hour.
    stack = LocalStack(tmp_path, extra_env={**service_env, "APLYPRO_ASP_BUILD_INTERVAL_S": "0.5", **asp.start()})
    oidc: OidcProvider | None = None
    try:
        stack.start_servers()
        stack.start_all()
        school = generate_school(tmp_path / "school", students_per_class=1)
        for args in (["load-establishments", str(school.establishments)],
                     ["load-mefs", str(school.mefs), "--school-year", "2025"],
                     ["import-csv", str(school.students), "--uai", UAI]):
            result = stack.run_command(["aplypro-students", *args])
            assert result.returncode == 0, result.stderr[-2000:]
        first = next(csv.DictReader(school.students.read_text(encoding="utf-8").splitlines(), delimiter=";"))
        assert first["classe"] == "TLE PRO MELEC"
        oidc = OidcProvider.start()  # (with a log_file it leaves the file open: a ResourceWarning here)
        url = stack.start_web(oidc.issuer)
        yield Stack(url, stack, asp, first["nom"], first["prenoms"].split()[0])
    finally:
        stack.stop()
        asp.stop()
        if oidc is not None:
            oidc.stop()
    # No IBAN in any log of the stack
    for log in (tmp_path / "logs").glob("*.log"):
        assert "30006000011234567890189" not in log.read_text(errors="replace"), log.name


class AspAnswers:
    """A thread that plays the ASP's side of the day, as `aplypro demo` does: the gateway fetches the answers
    (`poll`), the fake pays what it integrated, until stopped."""

    def __init__(self, stack: LocalStack, asp: FakeAspInThread) -> None:
        self.stack, self.asp = stack, asp
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="asp-answers", daemon=True)
        self.failures: list[str] = []

    def _run(self) -> None:
        while not self.stopping.wait(2):
            result = self.stack.run_command(["aplypro-asp-gateway", "poll"])
            if result.returncode != 0:
                self.failures.append(result.stderr[-500:])
            self.asp.emit_payments()

    def __enter__(self) -> AspAnswers:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(120)


async def reload_until(page: Any, locator: Any, pattern: str, what: str, timeout: float = WAIT_S) -> str:
    """Reload the page until the locator's text matches `pattern` (the services agree through events)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        if await locator.count():
            text = await locator.first.text_content() or ""  # not inner_text: the DSFR badges are upper-cased
            if re.search(pattern, text):
                return text
        await page.wait_for_timeout(3000)
        await page.reload()
    raise AssertionError(f"{what}: not seen in {timeout:.0f} s; last seen {text!r}")


@pytest.mark.timeout(2400)
async def test_the_director_enters_a_rib_adds_and_validates_a_pfmp_sees_it_paid_and_downloads_the_da(
        full_stack: Stack, axe_script: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium, see deploy/install-system-packages.sh)")
    from playwright.async_api import async_playwright

    web_url, name = full_stack.web_url, f"{full_stack.last_name} {full_stack.first_name}"
    axe = Axe(axe_script)
    check_accessibility = axe.check
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context(bypass_csp=True, locale="fr-FR", accept_downloads=True)
            context.set_default_timeout(60_000)  # a loaded machine: every service is its own process
            page = await context.new_page()
            await _open_when_up(page, web_url)
            await check_accessibility(page, "home")
            await page.get_by_role("link", name="Se connecter").first.click()
            await page.get_by_role("button", name="directrice").click()
            await page.wait_for_url(f"{web_url}/etablissements/{UAI}*")
            # pfmp learns the schoolings from the students service's events: the class appears
            await reload_until(page, page.get_by_role("link", name="TLE PRO MELEC"), "TLE PRO MELEC",
                               "the class, learnt by pfmp")
            await check_accessibility(page, "establishment")
            await page.get_by_role("link", name="TLE PRO MELEC").click()
            await check_accessibility(page, "class")
            await page.get_by_role("link", name=name).click()
            student_url = page.url
            await check_accessibility(page, "student")

            # A wrong IBAN: flagged as typed and refused by the server; then the right one, recorded
            await page.get_by_role("link", name="Coordonnées bancaires").click()
            await page.get_by_label("Titulaire du compte").select_option("personal")
            await page.get_by_label("Nom du titulaire").fill(name)
            await page.get_by_label("BIC").fill("AGRIFRPP")
            await page.get_by_label("IBAN").press_sequentially(WRONG_IBAN)
            message = page.locator("#iban-message")
            await message.get_by_text("La clé de contrôle de l'IBAN est fausse").wait_for()
            await page.get_by_role("button", name="Enregistrer les coordonnées bancaires").click()
            await page.get_by_text("Les coordonnées n'ont pas été enregistrées").wait_for()
            assert "La clé de contrôle de l'IBAN est fausse" in await message.inner_text()
            await check_accessibility(page, "rib-refused")
            await page.get_by_label("IBAN").fill("")
            await page.get_by_label("IBAN").press_sequentially(GOOD_IBAN)
            await page.get_by_role("button", name="Enregistrer les coordonnées bancaires").click()
            await page.get_by_text("Les coordonnées bancaires sont enregistrées.").wait_for()
            assert "189" in await page.locator("#current-rib").inner_text()
            await check_accessibility(page, "rib-recorded")

            # A PFMP, shown at once
            await page.goto(student_url)
            await page.get_by_label("Date de début").fill("2026-01-05")
            await page.get_by_label("Date de fin").fill("2026-01-30")
            await page.get_by_label("Nombre de jours").fill(str(DAYS))
            await page.get_by_role("button", name="Ajouter la PFMP").click()
            await page.get_by_text("La PFMP est enregistrée.").wait_for()
            await check_accessibility(page, "student-with-pfmp")

            # Validation needs the DA (documents issues it from the students' events) and the RIB on file
            # (the students service announces it): both reach pfmp through Kafka, so wait for the DA badge,
            # then validate again while pfmp has not heard of the RIB yet.
            await reload_until(page, page.locator("#decisions tbody tr"), "Éditée", "the DA, learnt by pfmp")
            await _validate(page)
            await check_accessibility(page, "student-validated")

            # The calculator prices it; the gateway sends it; the fake ASP integrates and pays it
            await reload_until(page, page.locator("#payments td.amount"), re.escape(EXPECTED_AMOUNT),
                               "the PFMP's amount")
            with AspAnswers(full_stack.stack, full_stack.asp) as answers:
                badge = page.locator("#payments [data-request] .fr-badge")
                await reload_until(page, badge, "Paiement envoyé", "the payment request paid")
            assert answers.failures == []
            await check_accessibility(page, "student-paid")

            # The amounts in euros on the dashboard and the public statistics; the staff page (axe on each)
            await page.goto(f"{web_url}/etablissements/{UAI}/tableau-de-bord")
            assert await page.locator('[data-amount="paid"]').text_content() == EXPECTED_AMOUNT
            await check_accessibility(page, "dashboard-paid")
            await page.goto(f"{web_url}/stats")
            assert await page.get_by_test_id("paid-sum").text_content() == EXPECTED_AMOUNT
            await check_accessibility(page, "stats-paid")
            await page.goto(f"{web_url}/etablissements/{UAI}/personnels")
            await check_accessibility(page, "staff")
            await page.goto(student_url)

            # The DA, downloaded: a PDF
            await page.get_by_role("link", name="Documents de l'élève").click()
            link = page.get_by_role("link", name=re.compile("Décision d'attribution"))
            await reload_until(page, link, "Décision d'attribution", "the DA in the documents list")
            await check_accessibility(page, "documents")
            async with page.expect_download() as download_info:
                await link.first.click()
            download = await download_info.value
            pdf = Path(await download.path()).read_bytes()
            assert pdf.startswith(b"%PDF"), pdf[:20]
            assert download.suggested_filename.endswith(".pdf")

            # The director of another school: that student does not exist for them
            other = await browser.new_context(bypass_csp=True, locale="fr-FR")
            other.set_default_timeout(60_000)
            other_page = await other.new_page()
            await other_page.goto(web_url)
            await other_page.get_by_role("link", name="Se connecter").first.click()
            await other_page.get_by_role("button", name="autre-ecole").click()
            await other_page.wait_for_url(f"{web_url}/etablissements/*")
            response = await other_page.goto(student_url)
            assert response is not None
            assert response.status == 404
            await check_accessibility(other_page, "other-school-404")
            other_uai_url = re.sub(r"/etablissements/[^/]+/", "/etablissements/0999002L/", student_url)
            response = await other_page.goto(other_uai_url)
            assert response is not None
            assert response.status == 404
        finally:
            await browser.close()
    assert axe.violations == {}


async def _open_when_up(page: Any, url: str, timeout: float = 180) -> None:
    """Open the page once the web application answers (it starts with the stack)."""
    from playwright.async_api import Error

    deadline = time.monotonic() + timeout
    while True:
        try:
            await page.goto(url)
            return
        except Error:  # connection refused while the process starts
            if time.monotonic() > deadline:
                raise
            await page.wait_for_timeout(1000)


async def _validate(page: Any, timeout: float = WAIT_S) -> None:
    """Click Valider (ticking the director's statement the first time) until pfmp validates the PFMP."""
    deadline = time.monotonic() + timeout
    refusals: list[str] = []
    while time.monotonic() < deadline:
        statement = page.locator("#pfmps input[name=statement]")
        if await statement.count():
            await statement.first.check(force=True)  # the DSFR draws its box (the label) over the input
        await page.locator("#pfmps").get_by_role("button", name="Valider").click()
        await page.wait_for_load_state()
        if await page.get_by_text("La PFMP est validée").count():
            return
        refusals.append(await page.locator(".fr-alert").first.inner_text())
        await page.wait_for_timeout(3000)
        await page.reload()
    raise AssertionError(f"the PFMP was not validated: {refusals[-3:]}")
