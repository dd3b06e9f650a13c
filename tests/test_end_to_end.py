"""The skeleton path over the real broker and database, five services as separate processes:
CSV schoolings and RIBs → students → pfmp → calculator → documents (PDF) and asp-gateway (XML)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from aplypro_local.demo import run_school
from aplypro_local.school import CLASSES, generate_school
from aplypro_local.stack import LocalStack
from lxml import etree
from pypdf import PdfReader

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# 2025-26 barème of the three generated classes (calculation.md §2.3), in cents.
RATE_CAP = {"2473121133": (2000, 100000), "2473121132": (1500, 60000), "2412540321": (1000, 35000)}
NS = {"a": "http://www.cnasea.fr/fichier"}


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines(), delimiter=";"))


def expected_total_cents(folder: Path) -> int:
    """With nothing committed, a pool holds min(cap, Σ days × rate) (calculation.md §3.8, invariant 5)."""
    mef_of = {row["ine"]: row["code_mef"] for row in read_csv(folder / "students.csv")}
    days: dict[str, int] = defaultdict(int)
    for row in read_csv(folder / "pfmps.csv"):
        days[row["ine"]] += int(row["nb_jours"])
    total = 0
    for ine, count in days.items():
        rate, cap = RATE_CAP[mef_of[ine]]
        total += min(cap, count * rate)
    return total


def test_one_school_goes_from_csv_to_decisions_and_a_payment_file(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    assert {mef["MEF"] for _, mef in CLASSES} == set(RATE_CAP)
    stack = LocalStack(tmp_path, extra_env={**service_env, "APLYPRO_ASP_BUILD_INTERVAL_S": "0.5"})
    stack.start_servers()
    stack.start_all()
    try:
        school = generate_school(tmp_path / "school", students_per_class=4)
        figures = run_school(stack, school, timeout=150)
    finally:
        stack.stop()

    # Every student, PFMP and amount made it through, and nothing was dead-lettered.
    assert figures["students"] == school.student_count == 12
    assert figures["pfmps_validated"] == figures["amounts"] == school.pfmp_count
    assert figures["amounts_total_cents"] == expected_total_cents(tmp_path / "school")
    assert figures["dead_letters"] == 0

    # One decision per student, each its own PDF naming the student and the barème of the class.
    pdfs = sorted((tmp_path / "documents").rglob("attribution/*.pdf"))
    assert len(pdfs) == figures["decisions"] == school.student_count
    names = {row["nom"] for row in read_csv(tmp_path / "school" / "students.csv")}
    for pdf in pdfs:
        # Amounts are typeset with no-break spaces ("20 €"); compare with plain ones.
        text = PdfReader(pdf).pages[0].extract_text().replace("\u00a0", " ").replace("\u202f", " ")
        assert any(name in text for name in names)
        assert any(f"{rate // 100} €" in text for rate, _ in RATE_CAP.values())
        assert pdf.stem in text.replace(" ", "")  # the DA number is printed

    # The payment file carries every payment request, in whole euros, and their total.
    files = sorted((tmp_path / "asp" / "outbox").glob("nps_ficimport_idp_*.xml"))
    assert files, "no payment file written"
    records, euros = 0, 0
    for path in files:
        tree = etree.parse(str(path))
        records += len(tree.findall(".//a:ENREGISTREMENT", NS))
        euros += sum(int(e.text) for e in tree.findall(".//a:MTTOTALFINANCEMENT", NS))
    assert records == figures["payment_requests"] == figures["requests_sent"]
    assert euros * 100 == figures["amounts_total_cents"]

    # No personal data in any service's log: INEs, names, IBANs of the imported students.
    students = read_csv(tmp_path / "school" / "students.csv")
    secrets = {row["ine"] for row in students} | {row["iban"] for row in read_csv(tmp_path / "school" / "ribs.csv")}
    secrets |= {row["nom"] for row in students} | {row["date_naissance"] for row in students}
    for log in (tmp_path / "logs").glob("*.log"):
        text = log.read_text(encoding="utf-8", errors="replace")
        leaked = sorted(s for s in secrets if s in text)
        assert not leaked, f"{log.name} leaks personal data ({len(leaked)} values)"
