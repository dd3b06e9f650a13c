"""The skeleton path over the real broker and database, five services as separate processes:
CSV schoolings and RIBs → students → pfmp → calculator → documents (PDF) and asp-gateway (XML uploaded over
SFTP to the fake ASP, whose integrations and payments come back through `poll` until every request is paid).

Four students are planted to be blocked, one per reason (school.Planted); the pipeline must find each
reason on its own and pay everyone else in one file."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from aplypro_local.demo import run_school
from aplypro_local.fake_asp.in_thread import FakeAspInThread
from aplypro_local.school import CLASSES, NO_ALLOWANCE_CLASS, generate_school
from aplypro_local.stack import LocalStack
from lxml import etree
from pypdf import PdfReader

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# 2025-26 barème of the three generated classes (calculation.md §2.3), in cents.
RATE_CAP = {"2473121133": (2000, 100000), "2473121132": (1500, 60000), "2412540321": (1000, 35000)}
NS = {"a": "http://www.cnasea.fr/fichier"}


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines(), delimiter=";"))


def expected_cents_by_student(folder: Path) -> dict[str, int]:
    """With nothing committed, a pool holds min(cap, Σ days × rate) (calculation.md §3.8, invariant 5); a
    class without barème prices nothing."""
    mef_of = {row["ine"]: row["code_mef"] for row in read_csv(folder / "students.csv")}
    days: dict[str, int] = defaultdict(int)
    for row in read_csv(folder / "pfmps.csv"):
        days[row["ine"]] += int(row["nb_jours"])
    return {ine: min(cap, count * rate) for ine, count in days.items()
            if mef_of[ine] in RATE_CAP for rate, cap in (RATE_CAP[mef_of[ine]],)}


def test_one_school_goes_from_csv_to_decisions_and_a_payment_file(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    assert {mef["MEF"] for _, mef in CLASSES} == set(RATE_CAP)
    assert NO_ALLOWANCE_CLASS[1]["MEF"] not in RATE_CAP
    asp = FakeAspInThread(tmp_path / "fake-asp")  # the gateway uploads to it and polls it over SFTP
    stack = LocalStack(tmp_path, extra_env={**service_env, "APLYPRO_ASP_BUILD_INTERVAL_S": "0.5", **asp.start()})
    stack.start_servers()
    stack.start_all()
    try:
        school = generate_school(tmp_path / "school", students_per_class=4)
        run = run_school(stack, school, timeout=150, asp=asp)
    finally:
        stack.stop()
        asp.stop()
    figures, planted, folder = run.figures, school.planted, tmp_path / "school"
    assert planted is not None

    # Each planted student is blocked for their reason, where the owner of the data decides it, and nothing
    # else is blocked: an overlapping PFMP is refused when recorded, a PFMP without DA at validation, the
    # calculator holds the PFMP outside its schooling, the asp-gateway the adult paid on a parent's account.
    assert run.blocked == {
        ("overlaps", "pfmp: refused when recorded"): 1,
        ("missing_attributive_decision", "pfmp: refused at validation"): 1,
        ("pfmp_outside_schooling_dates", "calculator"): 1,
        ("adult_wrong_owner_type", "asp-gateway"): 1,
    }
    assert run.by_reason() == {"overlaps": 1, "missing_attributive_decision": 1, "pfmp_outside_schooling_dates": 1,
                               "adult_wrong_owner_type": 1}
    assert figures["requests_blocked"] == 2  # the two requests held; the other two never became requests

    # Every other student, PFMP and amount made it through, and nothing was dead-lettered.
    assert figures["students"] == school.student_count == 12
    assert figures["pfmps_validated"] == school.pfmp_count - 1  # the PFMP without DA
    assert figures["amounts"] == school.priced_pfmp_count == school.pfmp_count - 1  # its class has no barème
    expected = expected_cents_by_student(folder)
    assert figures["amounts_total_cents"] == sum(expected.values())
    assert figures["dead_letters"] == 0

    # One decision per student whose class opens the allowance, each its own PDF naming the student and the
    # barème of the class.
    pdfs = sorted((tmp_path / "documents").rglob("attribution/*.pdf"))
    assert len(pdfs) == figures["decisions"] == school.decision_count == school.student_count - 1
    names = {row["nom"] for row in read_csv(folder / "students.csv")}
    for pdf in pdfs:
        # Amounts are typeset with no-break spaces ("20 €"); compare with plain ones.
        text = PdfReader(pdf).pages[0].extract_text().replace("\u00a0", " ").replace("\u202f", " ")
        assert any(name in text for name in names)
        assert any(f"{rate // 100} €" in text for rate, _ in RATE_CAP.values())
        assert pdf.stem in text.replace(" ", "")  # the DA number is printed

    # The payment files carry every request not blocked, in whole euros, and their total: every student is
    # paid but the three whose requests are held or never made (the overlap's student keeps the PFMPs recorded first).
    # (Requests reach the gateway over a few seconds, and a student's second PFMP waits for the ASP to
    # integrate the first (asp-exchange.md §4.3): the records are spread over several uploads; each request is
    # in exactly one.)
    files = sorted(asp.upload_dir.glob("nps_ficimport_idp_*.xml"))
    assert files, "no payment file"
    trees = [etree.parse(str(f)) for f in files]
    records = sum(len(tree.findall(".//a:ENREGISTREMENT", NS)) for tree in trees)
    record_ids = [e.get("idEnregistrement") for tree in trees for e in tree.findall(".//a:ENREGISTREMENT", NS)]
    assert len(record_ids) == len(set(record_ids)), "a request in two files"
    # The DA numbers sent are the ones the documents service printed (each PDF is named by its number), and each
    # PFMP number is one of them + a 2-digit rank (documents.md §4).
    printed = {pdf.stem for pdf in pdfs}
    assert {e.text for tree in trees for e in tree.findall(".//a:DOSSIER/a:NUMADM", NS)} <= printed
    assert all(e.text and e.text[:-2] in printed and e.text[-2:].isdigit()
               for tree in trees for e in tree.findall(".//a:PRESTADOSS/a:NUMADM", NS))
    euros = sum(int(e.text) for tree in trees for e in tree.findall(".//a:MTTOTALFINANCEMENT", NS))
    assert records == figures["payment_requests"] - 2 == figures["requests_sent"]
    unpaid = {planted.outside_schooling_dates, planted.adult_wrong_owner_type, planted.missing_attributive_decision}
    assert euros * 100 == figures["sent_total_cents"] == sum(c for ine, c in expected.items() if ine not in unpaid)
    paid_accounts = {e.text for tree in trees for e in tree.findall(".//a:ZONEBBAN", NS)}
    assert paid_accounts == {row["iban"][4:] for row in read_csv(folder / "ribs.csv") if row["ine"] not in unpaid}
    # The fake ASP integrated and paid every one: the calculator learnt it from the returns the gateway polled.
    assert figures["requests_paid"] == figures["requests_sent"]
    assert figures["requests_unpaid"] == figures["requests_rejected"] == 0

    # No personal data in any service's log: INEs, names, IBANs of the imported students.
    students = read_csv(folder / "students.csv")
    secrets = {row["ine"] for row in students} | {row["iban"] for row in read_csv(folder / "ribs.csv")}
    secrets |= {row["nom"] for row in students} | {row["date_naissance"] for row in students}
    for log in (tmp_path / "logs").glob("*.log"):
        text = log.read_text(encoding="utf-8", errors="replace")
        leaked = sorted(s for s in secrets if s in text)
        assert not leaked, f"{log.name} leaks personal data ({len(leaked)} values)"
