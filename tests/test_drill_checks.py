"""The drill's checks on hand-made evidence: they count what they must (no servers needed)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from aplypro_local.drill.checks import (
    FileRecord,
    check_dead_letters,
    check_modifications,
    check_payments,
    read_payment_files,
)
from aplypro_local.drill.load import Load

NS = "http://www.cnasea.fr/fichier"


def _file(path: Path, records: list[tuple[int, str, str]]) -> None:
    body = "".join(
        f'<ENREGISTREMENT idEnregistrement="{rid}"><INDIVIDU><LISTEDOSSIER><DOSSIER><NUMADM>DA</NUMADM>'
        f"<LISTEPRESTADOSS><PRESTADOSS><NUMADM>{numadm}</NUMADM><LISTEELEMENTPAIEMENT><ELEMENTPAIEMENT>"
        f"<LISTEVERSEMENT><VERSEMENT><LISTEFINANCEMENT><FINANCEMENT><MTTOTALFINANCEMENT>{euros}</MTTOTALFINANCEMENT>"
        "</FINANCEMENT></LISTEFINANCEMENT></VERSEMENT></LISTEVERSEMENT></ELEMENTPAIEMENT></LISTEELEMENTPAIEMENT>"
        "</PRESTADOSS></LISTEPRESTADOSS></DOSSIER></LISTEDOSSIER></INDIVIDU></ENREGISTREMENT>"
        for rid, numadm, euros in records)
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<FICHIER xmlns="{NS}"><ENREGISTREMENTS>{body}'
                    "</ENREGISTREMENTS></FICHIER>")


def test_payment_files_are_read_record_by_record(tmp_path: Path) -> None:
    _file(tmp_path / "a.xml", [(1, "DA01", "90.00"), (2, "DA02", "120.50")])
    _file(tmp_path / "b.xml", [(3, "DA01", "90.00")])
    assert read_payment_files(tmp_path) == [FileRecord("a.xml", 1, "DA01", 9000), FileRecord("a.xml", 2, "DA02", 12050),
                                            FileRecord("b.xml", 3, "DA01", 9000)]


def test_a_modification_record_is_counted_apart_from_first_payments(tmp_path: Path) -> None:
    # A rectification (asp-exchange.md §8.1): the PRESTADOSS carries idPrestaDoss and the same NUMADM, on purpose.
    _file(tmp_path / "a.xml", [(1, "DA01", "300")])
    modification = (tmp_path / "a.xml").read_text().replace("<PRESTADOSS>", '<PRESTADOSS idPrestaDoss="9876001" '
                                                            'modification="O">').replace('"1"', '"2"')
    (tmp_path / "b.xml").write_text(modification.replace("300", "450"))
    records = read_payment_files(tmp_path)
    assert records == [FileRecord("a.xml", 1, "DA01", 30000), FileRecord("b.xml", 2, "DA01", 45000, modification=True)]
    load = Load(Path("."), 1)
    period = ("000000001AB", date(2025, 11, 3), date(2025, 11, 14))
    load.periods = {period}
    pfmp = uuid.uuid4()
    requests: list[Any] = [{"record_id": 1, "pfmp_id": pfmp}, {"record_id": 2, "pfmp_id": pfmp}]
    by_period, by_numadm = check_payments(load, records, requests, {pfmp: period})
    assert (by_period.ok, by_numadm.ok) == (True, True)  # not a second payment of the period or the NUMADM
    periods = {pfmp: period}
    load.rectifications = {period: 6}
    found = check_modifications(load, records, requests, periods, {pfmp: 45000})
    assert found.ok, found.detail
    assert found.detail.startswith("1 modification records for 1 rectified PFMPs: 0 never sent, 0 sent twice")
    assert not check_modifications(load, records[1:], requests, periods, {pfmp: 45000}).ok  # NUMADM never sent first
    assert check_modifications(load, records, requests, periods, {pfmp: 40000}).failed  # not the calculator's total
    assert check_modifications(load, records[:1], requests, periods, {pfmp: 45000}).lost == 1  # never sent
    twice = [*records, FileRecord("c.xml", 3, "DA01", 45000, modification=True)]
    three: list[Any] = [*requests, {"record_id": 3, "pfmp_id": pfmp}]
    assert check_modifications(load, twice, three, periods,
                               {pfmp: 45000}).duplicated == 1  # the PFMP rectified twice over
    load.rectifications = {}
    assert check_modifications(load, records, requests, periods, {pfmp: 45000}).duplicated == 1  # never rectified


def test_a_period_paid_twice_and_one_unpaid_are_counted() -> None:
    load = Load(Path("."), 2)
    p1, p2, p3 = ("000000001AB", date(2025, 11, 3), date(2025, 11, 14)), \
        ("000000001AB", date(2026, 3, 2), date(2026, 3, 13)), ("000000002AC", date(2025, 11, 3), date(2025, 11, 14))
    load.periods = {p1, p2, p3}
    pfmp_a, pfmp_b, pfmp_c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()  # b: a second PFMP of p1 (re-import)
    periods = {pfmp_a: p1, pfmp_b: p1, pfmp_c: p2}
    requests: list[Any] = [{"record_id": 1, "pfmp_id": pfmp_a}, {"record_id": 2, "pfmp_id": pfmp_b},
                           {"record_id": 3, "pfmp_id": pfmp_c}]
    records = [FileRecord("f", 1, "DA01", 9000), FileRecord("f", 2, "DA02", 9000), FileRecord("g", 3, "DA03", 9000),
               FileRecord("g", 1, "DA01", 9000)]  # record 1 sent again in a second file
    by_period, by_numadm = check_payments(load, records, requests, periods)
    assert (by_period.lost, by_period.duplicated) == (1, 2)  # p3 unpaid; p1 paid three times
    assert by_numadm.duplicated == 1


def test_dead_letters_are_compared_as_a_multiset() -> None:
    load = Load(Path("."), 1)
    load.injected = Counter({("aplypro.pfmp.events", b"{broken"): 2})
    # Each reader of the topic (the contracts' catalog: calculator, documents, asp-gateway) dead-letters it.
    expected = Counter({("aplypro.pfmp.events", "calculator", b"{broken"): 2,
                        ("aplypro.pfmp.events", "documents", b"{broken"): 2,
                        ("aplypro.pfmp.events", "asp-gateway", b"{broken"): 2})
    assert check_dead_letters(load, expected).ok
    assert not check_dead_letters(load, expected - Counter({("aplypro.pfmp.events", "documents", b"{broken"): 1})).ok
    assert not check_dead_letters(load, expected + Counter({("aplypro.documents.events", "documents", b"x"): 1})).ok


def test_an_unpaid_period_says_where_its_request_stopped() -> None:
    load = Load(Path("."), 2)
    blocked, missing = ("000000001AB", date(2025, 11, 3), date(2025, 11, 14)), \
        ("000000002AC", date(2025, 11, 3), date(2025, 11, 14))
    load.periods = {blocked, missing}
    pfmp = uuid.uuid4()
    requests: list[Any] = [{"record_id": 1, "pfmp_id": pfmp, "state": "pending", "blocking_reasons": ["no_rib"]}]
    by_period, _ = check_payments(load, [], requests, {pfmp: blocked})
    assert by_period.lost == 2
    assert "2 periods unpaid (no gateway request=1, pending[no_rib]=1)" in by_period.detail
