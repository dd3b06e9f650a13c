"""Issue 11's "done means", end to end: the five services as processes over the real broker and database, the
gateway talking SFTP to the fake ASP. One school of three students; the ASP refuses the bank details of one
(a recognised reason of asp-exchange.md §6.1) on both of their PFMPs, refuses the other's record for a motif it
does not explain (fallback_message), and pays the third. New RIBs for the two refused students
(`aplypro-students import-ribs`) make the calculator retry the recognised rejections on its own (lifecycles.md
§2, Retries): new requests, sent in later files on the new account, integrated and paid; the other waits for a
person. Every PFMP ends paid exactly once but the one whose rejection needs a person."""

from __future__ import annotations

import asyncio
import csv
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import xsd
from aplypro_local.demo import run_school
from aplypro_local.drill.lag import lag_by_group
from aplypro_local.fake_asp.behaviour import Behaviour
from aplypro_local.fake_asp.in_thread import FakeAspInThread
from aplypro_local.school import generate_school
from aplypro_local.stack import LocalStack
from lxml import etree
from schwifty import IBAN

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NS = {"a": "http://www.cnasea.fr/fichier"}
# The fake's clock: a Wednesday, so that it never notes a weekend upload whatever day the test runs.
A_WEDNESDAY = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
# A recognised motif of §6.1 as the ASP writes it, and one it does not explain (accented: the rejects CSV is
# Windows-1252).
INVALID_RIB = ("Le RIB FR7630006000011234567890100 est Invalide", "invalid_rib")
UNEXPLAINED = ("Dossier bloqué à l'ASP : motif à préciser", "fallback_message")
# Expected results are ready, or stuck: how long the run may stand still before it fails.
STILL_S = 120.0


def our_xsd(content: bytes) -> list[str]:
    """The fake's upload check: our XSD (asp-exchange.md §4.8, §10), not only well-formed XML."""
    return [f"{v.kind} at {v.path}" for v in xsd.violations(content)]


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines(), delimiter=";"))


def query(stack: LocalStack, sql: str) -> list[dict[str, Any]]:
    """`sql` with each `{s}` replaced by this test's schema prefix."""
    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(stack.env["DATABASE_URL"])
        try:
            return [dict(r) for r in await conn.fetch(sql.format(s=stack.schema_prefix))]
        finally:
            await conn.close()
    return asyncio.run(run())


# Every request the gateway knows, with its student's INE (students' schema) and the calculator's view of it.
REQUESTS = """
SELECT st.ine, g.pfmp_id, g.record_id, g.state AS gateway_state, g.return_reasons, g.paid_cents, g.file_name,
       c.state, c.asp_reasons, c.paid_amount, c.amount_cents, c.seq
FROM {s}asp_gateway.payment_requests g
JOIN {s}calculator.payment_requests c USING (payment_request_id)
JOIN {s}students.students st ON st.student_id = g.student_id
ORDER BY c.seq"""


def by_pfmp(rows: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[row["pfmp_id"]].append(row)
    return out


def settle(stack: LocalStack, asp: FakeAspInThread, done: Any, label: str) -> list[dict[str, Any]]:
    """Poll the ASP's answers and have it pay what it integrated, until `done(rows)`; fails when nothing moved
    for STILL_S seconds."""
    moved, seen = time.monotonic(), None
    while True:
        poll = stack.run_command(["aplypro-asp-gateway", "poll"])
        assert poll.returncode == 0, poll.stderr[-2000:]
        asp.emit_payments()
        rows = query(stack, REQUESTS)
        if done(rows):
            return rows
        now = [(r["record_id"], r["gateway_state"], r["state"]) for r in rows]
        if now != seen:
            seen, moved = now, time.monotonic()
        dead = [name for name, alive in stack.alive().items() if not alive]
        assert not dead, f"service(s) stopped: {dead}; see {stack.workdir / 'logs'}"
        stuck = Counter((r["gateway_state"], r["state"]) for r in rows)  # (gateway's state, calculator's)
        assert time.monotonic() - moved < STILL_S, f"{label}: stuck at {sorted(stuck.items())}"
        time.sleep(1)


def uploaded_records(asp: FakeAspInThread) -> dict[int, tuple[str, str, bool]]:
    """idEnregistrement → (file, IBAN it pays, whether it modifies a known prestation), over every upload."""
    out: dict[int, tuple[str, str, bool]] = {}
    for path in sorted(asp.upload_dir.glob("nps_ficimport_idp_*.xml")):
        for record in etree.parse(str(path)).findall(".//a:ENREGISTREMENT", NS):
            record_id = int(record.get("idEnregistrement"))
            assert record_id not in out, f"record {record_id} in two files"
            iban = "".join(record.findtext(f".//a:{n}", namespaces=NS) or ""
                           for n in ("CODEISOPAYS", "CLECONTROL", "ZONEBBAN"))
            modification = record.find(".//a:PRESTADOSS", NS).get("idPrestaDoss") is not None
            out[record_id] = (path.name, iban, modification)
    return out


@pytest.mark.timeout(600)  # two rounds of answers over SFTP, five processes on a shared machine
def test_a_bank_rejection_is_retried_after_a_new_rib_and_every_pfmp_is_paid_once(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    school = generate_school(tmp_path / "school", students_per_class=1)  # three students, five PFMPs
    ribs = read_csv(school.ribs)
    pfmps_of = Counter(row["ine"] for row in read_csv(school.pfmps))
    # The ASP refuses the account of a student with two PFMPs and the record of one with one; pays the third.
    two = next(r for r in ribs if pfmps_of[r["ine"]] == 2)
    one = next(r for r in ribs if pfmps_of[r["ine"]] == 1)
    paid_at_once = next(r for r in ribs if r not in (two, one))
    refused = {two["ine"]: INVALID_RIB, one["ine"]: UNEXPLAINED}
    retried = {two["ine"]}  # the recognised rejection
    behaviour = Behaviour(remove_taken=False, validate=our_xsd, reject_ibans={two["iban"]: INVALID_RIB[0],
                                                                              one["iban"]: UNEXPLAINED[0]})
    asp = FakeAspInThread(tmp_path / "fake-asp", behaviour, clock=lambda: A_WEDNESDAY)
    stack = LocalStack(tmp_path, extra_env={**service_env, "APLYPRO_ASP_BUILD_INTERVAL_S": "0.5", **asp.start()})
    stack.start_servers()
    stack.start_all()
    try:
        # Students, RIBs, PFMPs, validation, amounts, requests, the first file uploaded.
        run_school(stack, school, timeout=150)

        # The ASP answers: the third student's PFMPs paid; each request of the two others rejected, the second
        # PFMP of the first sent only after its first record was answered (one creation per dossier, §4.3).
        def first_round(rows: list[dict[str, Any]]) -> bool:
            latest = [requests[-1] for requests in by_pfmp(rows).values()]
            return len(latest) == school.pfmp_count and all(
                r["state"] == ("rejected" if r["ine"] in refused else "paid") for r in latest)
        rows = settle(stack, asp, first_round, "first answers")
        assert len(rows) == school.pfmp_count  # a rejection alone retries nothing
        for row in rows:
            if row["ine"] in refused:
                key = refused[row["ine"]][1]
                assert (row["gateway_state"], row["return_reasons"], row["asp_reasons"]) == (
                    "rejected", [key], [key])

        # New bank details for the two students: the calculator retries the recognised rejections on its own.
        new_iban = {ine: str(IBAN.generate("FR", bank_code="30006", account_code=f"{900 + n:011d}"))
                    for n, ine in enumerate(sorted(refused))}
        new_ribs = tmp_path / "school" / "new_ribs.csv"
        with new_ribs.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(ribs[0]), delimiter=";")
            writer.writeheader()
            writer.writerows({**r, "iban": new_iban[r["ine"]]} for r in ribs if r["ine"] in refused)
        # The students service must have read the rejections too: until then the old RIBs are frozen on requests
        # in progress, and replacing them is refused (unarchivable_rib).
        namespace = service_env["APLYPRO_TOPIC_NAMESPACE"]
        deadline = time.monotonic() + STILL_S
        while asyncio.run(lag_by_group(stack.env["KAFKA_BOOTSTRAP_SERVERS"], namespace))["students.money-facts"]:
            assert time.monotonic() < deadline, "the students service did not read the rejections"
            time.sleep(1)
        imported = stack.run_command(["aplypro-students", "import-ribs", str(new_ribs)])
        assert imported.returncode == 0, imported.stderr[-2000:]

        def retries_paid(rows: list[dict[str, Any]]) -> bool:
            latest = [requests[-1] for requests in by_pfmp(rows).values()]
            return len(latest) == school.pfmp_count and all(
                r["state"] == ("rejected" if r["ine"] in refused.keys() - retried else "paid") for r in latest)
        settle(stack, asp, retries_paid, "retries paid")
        # The calculator read every new RIB (its group has nothing left on the RIB topic): the unexplained
        # rejection had its chance to be retried, and was not.
        deadline = time.monotonic() + STILL_S
        while asyncio.run(lag_by_group(stack.env["KAFKA_BOOTSTRAP_SERVERS"], namespace))["calculator.pricing"]:
            assert time.monotonic() < deadline, "the calculator did not read the new RIBs"
            time.sleep(1)
        rows = settle(stack, asp, retries_paid, "retries paid")
        ledger = asp.ledger()
        gateway_ribs = query(stack, "SELECT count(*) AS n FROM {s}asp_gateway.ribs")
    finally:
        stack.stop()
        asp.stop()

    # Every PFMP paid exactly once, the bank rejection's through one rejected request and one paid retry; the
    # unexplained one rejected once and never retried (a director relaunches it).
    for requests in by_pfmp(rows).values():
        ine = requests[0]["ine"]
        states = [r["state"] for r in requests]
        assert states == (["rejected", "paid"] if ine in retried else ["rejected"] if ine in refused else ["paid"])
        assert [r["gateway_state"] for r in requests] == states
        paid = requests[-1]
        if paid["state"] == "rejected":
            continue
        assert paid["paid_cents"] == paid["amount_cents"] == int(paid["paid_amount"] * 100)
    assert sum(r["paid_cents"] or 0 for r in rows) == sum(r["amount_cents"] for r in rows if r["state"] == "paid")
    assert gateway_ribs == [{"n": school.student_count}]  # replaced, not added

    # The files the fake received: each request in one file, each record received once, no rule broken.
    records = uploaded_records(asp)
    assert set(records) == {r["record_id"] for r in rows}
    assert set(ledger.record_counts.values()) == {1}
    assert ledger.violations == ()  # every file valid against our XSD, no limit, name or record seen twice
    assert not any(modification for _, _, modification in records.values())  # retries of first payments
    for row in rows:
        _, iban, _ = records[row["record_id"]]
        if row["ine"] not in refused:
            assert iban == paid_at_once["iban"]
        elif row["state"] == "rejected":
            assert iban == next(r["iban"] for r in ribs if r["ine"] == row["ine"])  # the refused account
            assert row["record_id"] not in ledger.integrated
        else:
            assert row["ine"] in retried
            assert iban == new_iban[row["ine"]]  # the retry pays the new account
            assert ledger.integrated[row["record_id"]] == new_iban[row["ine"]]
    # The retries went out in files uploaded after the rejections, none in the file of a refused record.
    rejected_files = {records[r["record_id"]][0] for r in rows if r["state"] == "rejected"}
    retry_files = {records[r["record_id"]][0] for r in rows if r["ine"] in retried and r["state"] == "paid"}
    assert min(retry_files) > max(rejected_files)  # names end with the build time: they sort in time
    assert ledger.paid == frozenset(r["record_id"] for r in rows if r["state"] == "paid")

    # No personal data in any service's log, the new IBANs included.
    secrets = {r["ine"] for r in ribs} | {r["iban"] for r in ribs} | set(new_iban.values())
    for log in (tmp_path / "logs").glob("*.log"):
        text = log.read_text(encoding="utf-8", errors="replace")
        assert not [s for s in secrets if s in text], f"{log.name} leaks personal data"
