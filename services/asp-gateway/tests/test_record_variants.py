"""Record variants (asp-exchange.md §4.2, §8): first payment, rectification up and down (recovery), full
cancellation; the modification records carry the ASP's ids and the new total, and pass our XSD."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import requests_repo, xsd
from aplypro_asp_gateway.adapters.xml_file import payment_file
from aplypro_asp_gateway.domain.errors import InvalidAspId
from aplypro_asp_gateway.domain.model import (
    AspIds,
    Blocked,
    PaymentRecord,
    PendingRequest,
    Rib,
    Schooling,
    Student,
)
from aplypro_asp_gateway.domain.modification import build_modification
from aplypro_asp_gateway.domain.readiness import prepare
from aplypro_asp_gateway.domain.text import holder_name
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, assemble, build_payment_file
from lxml import etree

from .conftest import NS, PARAMS, feed, lea_request, register, request

SAMPLE = (Path(__file__).parent / "fixtures" / "asp_sample_4_7.xml").read_bytes()
BUILT_ON = date(2026, 5, 20)
IDS = AspIds(individu="1234567", dossier="7654321", prestation="9876543")
OPEN = replace(PARAMS, negative_rectification_blocked=False)  # §8.2's block lifted


def karim(amount_cents: int = 45000) -> PendingRequest:
    """The second sample record of §4.7: paid 300 € for 20 days, rectified to 30 days (450 €), private school."""
    return PendingRequest(
        payment_request_id=uuid.uuid4(), record_id=4243, pfmp_id=uuid.uuid4(), schooling_id=uuid.uuid4(),
        student_id=uuid.uuid4(), amount_cents=amount_cents, pfmp_rank=1, rectification=True, first_payment_sent=True,
        student=Student(last_name="Benali", first_names=("Karim",), birth_date=date(2007, 11, 2), sex="male",
                        birth_city_insee=None, birth_country_insee="99350", postal_code="13001", city_insee="13201",
                        country_insee="99100", address_lines=("12, boulevard de la République",
                                                              "Appartement 12, Résidence les Pins, Bâtiment A")),
        schooling=Schooling(uai="0130001X", contract_type_code="30", mef_ministry="MENJ", school_year=2025,
                            status="student", yearly_cap_cents=60000),
        rib=Rib(rib_id=uuid.uuid4(), owner_type="personal", holder_name="Karim Benali",
                iban="FR1420041010050500013M02606", bic="PSSTFRPPMAR"),
        da_number="ENPRZ9Y8X7W6V520250", pfmp_number_sent="ENPRZ9Y8X7W6V52025001",  # the sample's numbers
    )


def canonical(element: etree._Element) -> bytes:
    text: bytes = etree.tostring(element, method="c14n")
    return text


def written(record: PaymentRecord) -> etree._Element:
    root = etree.fromstring(payment_file(PARAMS, [record], BUILT_ON), etree.XMLParser(remove_blank_text=True))
    [element] = root.findall(".//f:ENREGISTREMENT", NS)
    return element


def test_an_upward_rectification_is_the_second_record_of_the_reference_sample() -> None:
    record = build_modification(karim(), PARAMS, IDS, paid_cents=30000)

    assert isinstance(record, PaymentRecord)
    assert record.variant == "rectification_up"
    element = written(record)
    sample = etree.fromstring(SAMPLE, etree.XMLParser(remove_blank_text=True)).findall(".//f:ENREGISTREMENT", NS)[1]
    assert canonical(element) == canonical(sample)


def test_a_modification_carries_the_asp_ids_with_modification_o_n_o() -> None:
    record = build_modification(karim(), PARAMS, IDS, paid_cents=30000)
    assert isinstance(record, PaymentRecord)
    element = written(record)
    individu, dossier, prestation = (element.find(f".//f:{name}", NS) for name in ("INDIVIDU", "DOSSIER", "PRESTADOSS"))
    assert dict(individu.attrib) == {"idIndividu": "1234567", "modification": "O"}
    assert dict(dossier.attrib) == {"idDoss": "7654321", "modification": "N"}
    assert dict(prestation.attrib) == {"idPrestaDoss": "9876543", "modification": "O"}


def test_a_first_payment_carries_no_id_and_no_modification() -> None:
    record = prepare(lea_request(), PARAMS)
    assert isinstance(record, PaymentRecord)
    assert (record.variant, record.asp_ids) == ("first_payment", None)
    element = written(record)
    assert not any(e.attrib for e in element.iter() if e is not element)


@pytest.mark.parametrize(("new_total", "variant", "sent"), [
    (45000, "rectification_up", "450"),
    (15000, "rectification_down", "150"),  # the ASP issues a recovery order for 150 € (indu)
    (0, "cancellation", "0"),  # everything paid is recovered
])
def test_each_modification_sends_the_new_total_never_a_difference(new_total: int, variant: str, sent: str) -> None:
    record = build_modification(karim(new_total), OPEN, IDS, paid_cents=30000)

    assert isinstance(record, PaymentRecord)
    assert record.variant == variant
    assert written(record).findtext(".//f:MTTOTALFINANCEMENT", namespaces=NS) == sent
    assert xsd.violations(payment_file(OPEN, [record], BUILT_ON)) == []


def test_a_total_below_what_was_paid_parks_while_the_asp_block_is_on() -> None:
    for new_total in (15000, 0):
        outcome = build_modification(karim(new_total), PARAMS, IDS, paid_cents=30000)
        assert isinstance(outcome, Blocked)
        assert outcome.reasons == ("negative_rectification",)


def test_a_total_equal_to_what_was_paid_is_not_sent() -> None:
    outcome = build_modification(karim(30000), PARAMS, IDS, paid_cents=30000)
    assert isinstance(outcome, Blocked)
    assert outcome.reasons == ("rectification_without_change",)


def test_the_other_checks_still_apply_to_a_modification() -> None:
    request = karim()
    assert request.rib is not None
    assert request.student is not None
    broken = replace(request, rib=replace(request.rib, iban="FR1420041010050500013M02607"),
                     student=replace(request.student, sex="unknown"))
    outcome = build_modification(broken, PARAMS, IDS, paid_cents=30000)
    assert isinstance(outcome, Blocked)
    assert set(outcome.reasons) == {"rib", "missing_biological_sex"}
    # ... and a non-whole amount is never rounded.
    outcome = build_modification(karim(45050), PARAMS, IDS, paid_cents=30000)
    assert isinstance(outcome, Blocked)
    assert outcome.reasons == ("pfmp_amount",)


def test_without_ids_a_rectification_of_a_pfmp_already_sent_still_waits() -> None:
    # The first-payment guard stays for the record without ids: a second PRESTADOSS would pay twice.
    outcome = prepare(karim(), PARAMS)
    assert isinstance(outcome, Blocked)
    assert outcome.reasons == ("awaiting_asp_ids",)


@pytest.mark.parametrize("bad", ["", "12a4", "-1", "１２３", "1" * 19])
def test_asp_ids_are_digit_strings(bad: str) -> None:
    with pytest.raises(InvalidAspId) as caught:
        AspIds(individu="1", dossier=bad, prestation="2")
    assert caught.value.code == "invalid_asp_id"
    assert bad not in str(caught.value) or bad == ""


def test_a_file_mixes_first_payments_and_modifications_of_numbers_already_sent() -> None:
    first = prepare(lea_request(record_id=1), PARAMS)
    modification = build_modification(karim(), PARAMS, IDS, paid_cents=30000)
    assert isinstance(first, PaymentRecord)
    assert isinstance(modification, PaymentRecord)

    # The PFMP number of the modification left before, as a first payment: expected, not a duplicate.
    composition = assemble([first, modification], {modification.pfmp_number}, PARAMS, BUILT_ON)

    assert (composition.records, composition.blocked) == ([first, modification], [])
    assert composition.content is not None
    assert xsd.violations(composition.content) == []


@pytest.mark.parametrize(("entered", "sent"), [
    ("O’Connell", "O'Connell"), ("O–Connell>>", "O-Connell"), ("FOO^BAR", "FOOBAR"),
    ("Some      long name", "Some long name"), ("Johnny 🔥 Cash", "Johnny Cash"), ("Mme Léa Dupré", "Mme Lea Dupre"),
    ("Dupont & Fils + Cie", "Dupont Fils + Cie"),
    ("Jean-Christophe de la Tour d'Auvergne", "Jean-Christophe de la Tour d'Auv"),  # cut at 32, after the rest
    ("李小龍", ""),
])
def test_the_account_holder_follows_the_reference_rules(entered: str, sent: str) -> None:
    assert holder_name(entered) == sent


@pytest.mark.integration
async def test_a_modification_is_recorded_beside_its_pfmp_first_payment(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # A PFMP paid in a first file, then rectified: its new request's record carries the ASP's ids.
    student = await register(pool, 0)
    first = request(*student)
    await feed(pool, projection.on_payment_requested, first)
    assert (await build_payment_file(pool, options)).records == 1
    rectified = first.model_copy(update={"payment_request_id": uuid.uuid4(), "event_id": uuid.uuid4(),
                                         "amount_cents": 45000, "rectification": True})
    await feed(pool, projection.on_payment_requested, rectified)
    # The Indu address needs the street line the student's record carries.
    await pool.execute("UPDATE students SET address_lines = '{\"3 rue de Nantes\"}' WHERE student_id = $1",
                       student[0])
    async with pool.acquire() as conn, conn.transaction():
        [waiting] = await requests_repo.pending_requests(conn, limit=10)
        record = build_modification(waiting, PARAMS, IDS, paid_cents=30000)
        assert isinstance(record, PaymentRecord)
        content = payment_file(PARAMS, [record], BUILT_ON)
        await requests_repo.insert_file(conn, "nps_ficimport_idp_test_20260520013000.xml",
                                        datetime(2026, 5, 20, 1, 30, tzinfo=UTC), content, "0" * 64, 1)

        # The first-payment indexes (one per PFMP, one per NUMADM) do not refuse it: it is no first payment.
        await requests_repo.insert_file_records(conn, "nps_ficimport_idp_test_20260520013000.xml", [record])

    rows = await pool.fetch("SELECT payment_request_id, first_payment FROM file_records ORDER BY record_id")
    assert [(r["payment_request_id"], r["first_payment"]) for r in rows] == [
        (first.payment_request_id, True), (rectified.payment_request_id, False)]
