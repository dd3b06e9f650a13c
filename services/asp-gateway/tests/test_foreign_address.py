"""Address variants (asp-exchange.md §4.4) with the data-quality rules of §7.5 (abbreviation) and §7.6 (abroad):
a student living abroad is paid with the establishment's address, a rectification carries the street lines."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import xsd
from aplypro_asp_gateway.adapters.xml_file import payment_file
from aplypro_asp_gateway.domain.abbreviate import COMMON_WORDS, ROAD_TYPES, abbreviate
from aplypro_asp_gateway.domain.model import (
    AspIds,
    Blocked,
    EtrangerAddress,
    InduEtrangerAddress,
    InduFranceAddress,
    PaymentRecord,
    PendingRequest,
    Student,
)
from aplypro_asp_gateway.domain.modification import build_modification
from aplypro_asp_gateway.domain.readiness import prepare
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import Address, Establishment, Identity, SchoolingOpened, StudentRegistered
from lxml import etree

from .conftest import MEF, NS, PARAMS, UAI, VERSIONS, add_rib, feed, issue_decision, lea_request, request

BUILT_ON = date(2026, 5, 20)
IDS = AspIds("1234567", "7654321", "9876543")
GENEVA = "<ADRESSE><CODETYPEADR>PRINCIPALE</CODETYPEADR><CODEINSEEPAYS>99140</CODEINSEEPAYS><LOCALITEETRANGER>Geneve" \
         "</LOCALITEETRANGER><BUREAUDISTRIBETRANGER>1205</BUREAUDISTRIBETRANGER><VOIEPOINTGEOETRANGER>Rue de " \
         "Carouge 24</VOIEPOINTGEOETRANGER><DISTRICTETRANGER>Appartement 3</DISTRICTETRANGER><REGIONETRANGER>" \
         "Appartement 3</REGIONETRANGER></ADRESSE>"


def abroad(**changes: Any) -> PendingRequest:
    """Léa living in Geneva; her school in Montpellier (commune 34172, postal code 34000)."""
    base = lea_request()
    assert base.student is not None
    assert base.schooling is not None
    student = replace(base.student, country_insee="99140", postal_code="1205", city_insee=None, city_name="Genève",
                      address_lines=("Rue de Carouge 24", "Appartement 3"))
    schooling = replace(base.schooling, establishment_city_insee="34172", establishment_postal_code="34000")
    return replace(base, student=replace(student, **changes), schooling=schooling)


def adresses(record: PaymentRecord) -> list[bytes]:
    """Both ADRESSE blocks of the record as written, without namespace and blanks."""
    root = etree.fromstring(payment_file(PARAMS, [record], BUILT_ON), etree.XMLParser(remove_blank_text=True))
    found = root.findall(".//f:ADRESSE", NS)
    return [etree.tostring(a, method="c14n").replace(b' xmlns="http://www.cnasea.fr/fichier"', b"") for a in found]


def test_a_student_abroad_is_paid_with_the_establishment_address() -> None:
    record = prepare(abroad(), PARAMS)

    assert isinstance(record, PaymentRecord)
    assert record.address == EtrangerAddress(commune="34172", postal_code="34000")
    # §4.4 Etranger: establishment commune and postal code with 99100, on both levels; no foreign field.
    expected = (b"<ADRESSE><CODETYPEADR>PRINCIPALE</CODETYPEADR><CODECOMINSEE>34172</CODECOMINSEE><CODEPOSTALCEDEX>"
                b"34000</CODEPOSTALCEDEX><CODEINSEEPAYS>99100</CODEINSEEPAYS></ADRESSE>")
    assert adresses(record) == [expected, expected]
    assert xsd.violations(payment_file(PARAMS, [record], BUILT_ON)) == []


def test_an_unusable_residence_country_counts_as_abroad() -> None:
    record = prepare(abroad(country_insee="990"), PARAMS)
    assert isinstance(record, PaymentRecord)
    assert isinstance(record.address, EtrangerAddress)


def test_abroad_without_the_establishment_codes_is_blocked_with_each_reason() -> None:
    request = abroad()
    assert request.schooling is not None
    unknown = replace(request, schooling=replace(request.schooling, establishment_postal_code=" "))
    outcome = prepare(unknown, PARAMS)
    assert isinstance(outcome, Blocked)
    assert outcome.reasons == ("missing_establishment_postal_code",)


def test_a_rectification_abroad_sends_the_real_foreign_address_as_in_the_reference() -> None:
    record = build_modification(abroad(), PARAMS, IDS, paid_cents=20000)
    assert isinstance(record, PaymentRecord)
    assert record.address == InduEtrangerAddress(country="99140", city="Geneve", postal_code="1205",
                                                 street="Rue de Carouge 24", district="Appartement 3")
    assert adresses(record) == [GENEVA.encode()] * 2
    assert xsd.violations(payment_file(PARAMS, [record], BUILT_ON)) == []


def test_a_foreign_city_or_postal_code_is_required_and_never_abbreviated() -> None:
    for changes, reason in (({"city_name": None}, "incomplete_foreign_address"),
                            ({"postal_code": " "}, "incomplete_foreign_address"),
                            ({"city_name": "Saint-Jean-de-la-Grande-Boulangerie-sur-Leman"}, "address_too_long"),
                            ({"country_insee": "995"}, "unusable_address_country_code")):
        outcome = build_modification(abroad(**changes), PARAMS, IDS, paid_cents=20000)
        assert isinstance(outcome, Blocked), changes
        assert outcome.reasons == (reason,), changes


def test_foreign_street_lines_are_abbreviated_to_38_or_block_the_record() -> None:
    long_line = "Appartement 12, Résidence les Pins, Bâtiment A"  # 46 characters
    record = build_modification(abroad(address_lines=("Rue de Carouge 24", long_line)), PARAMS, IDS, paid_cents=0)
    assert isinstance(record, PaymentRecord)
    assert isinstance(record.address, InduEtrangerAddress)
    assert record.address.district == "APP 12 RESIDENCE LES PINS BAT A"
    hopeless = "Chemin de la Fontaine aux Loups et des Quatre Vents Supérieurs"
    outcome = build_modification(abroad(address_lines=(hopeless,)), PARAMS, IDS, paid_cents=0)
    assert isinstance(outcome, Blocked)
    assert outcome.reasons == ("address_too_long",)


def test_a_rectification_in_france_abbreviates_the_street_lines_as_in_the_reference() -> None:
    base = lea_request()
    assert base.student is not None
    student = replace(base.student, address_lines=("12, boulevard de la République",
                                                   "Appartement 12, Résidence les Pins, Bâtiment A"))
    record = build_modification(replace(base, student=student, amount_cents=45000), PARAMS, IDS, paid_cents=30000)
    assert isinstance(record, PaymentRecord)
    assert record.address == InduFranceAddress(street="12 BOULEVARD DE LA REP",
                                               complement="APP 12 RESIDENCE LES PINS BAT A",
                                               postal_code="34000", commune="34172")


def test_a_rectification_in_france_needs_a_street_line_that_fits() -> None:
    base = lea_request()
    assert base.student is not None
    for lines, reason in (((), "missing_address_line"),
                          (("Chemin de la Fontaine aux Loups et des Quatre Vents",), "address_too_long")):
        outcome = build_modification(replace(base, student=replace(base.student, address_lines=lines)), PARAMS,
                                     IDS, paid_cents=0)
        assert isinstance(outcome, Blocked)
        assert outcome.reasons == (reason,)
    # Only line 2: it becomes the street line, without complement.
    record = build_modification(replace(base, student=replace(base.student, address_lines=(" ", "3 rue Haute"))),
                                PARAMS, IDS, paid_cents=0)
    assert isinstance(record, PaymentRecord)
    assert record.address == InduFranceAddress(street="3 rue Haute", complement=None, postal_code="34000",
                                               commune="34172")


@pytest.mark.parametrize(("text", "limit", "road", "expected"), [
    ("Appartement 5 de la rue longue", 28, False, "APP 5 DE LA RUE LONGUE"),
    ("12, boulevard de la République", 28, False, "12 BOULEVARD DE LA REP"),
    ("Impasse du Moulin de la Grande Rue", 28, True, "IMP DU MOULIN DE LA GR"),
    ("Impasse du Moulin de la Grande Rue", 28, False, "IMP DU MOULIN DE LA GR"),  # common words: 31, then roads
    ("Boîte postale du parc Victor Hugo", 28, False, "BP DU PARC VICTOR HUGO"),
    ("Lieu-dit de la Place de l'Église Extraordinaire", 28, True, "LD DE LA PL DE L EGLISE EXTRAORDINAIRE"),
    ("Boulevardier de la rue principale", 28, False, "BOULEVARDIER DE LA RUE PRINCIPALE"),
    ("Les Allées du Parc", 10, True, "LES ALL DU PARC"),  # road types also match a plural S
    ("Rue de l'Église", 28, False, "Rue de l'Église"),  # fits: unchanged
    ("   ", 28, False, None),
])
def test_abbreviation_follows_the_reference_examples(text: str, limit: int, road: bool,
                                                     expected: str | None) -> None:
    assert abbreviate(text, limit, road_types=road) == expected


def test_the_tables_are_appendix_a() -> None:
    assert (len(ROAD_TYPES), len(COMMON_WORDS)) == (91, 178)
    assert (ROAD_TYPES["ZONE DAMENAGEMENT CONCERTE"], COMMON_WORDS["LIEUTENANT DE VAISSEAU"]) == ("ZAC", "LTDV")


@pytest.mark.integration
async def test_a_student_living_abroad_is_sent_with_the_establishment_address_on_postgres(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # A student living in Geneva, at a school whose directory entry carries its commune code and postal code.
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    identity = Identity(ine="000000009AB", last_name="ZORGLUB", first_names=("Léa",), birth_date=date(2008, 3, 14),
                        sex="female", birth_city_insee="35238", birth_country_insee="99100",
                        address=Address(lines=("Rue de Carouge 24",), postal_code="1205", city_name="Genève",
                                        country_insee="99140"))
    await feed(pool, projection.on_student_registered,
               StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity))
    await feed(pool, projection.on_schooling_opened, SchoolingOpened(
        producer="students", schooling_id=schooling_id, student_id=student_id,
        establishment=Establishment(uai=UAI, name="LP test", postal_code="35000", city_insee="35238"),
        class_label="TLE PRO MELEC", school_year=2025, mef=MEF, start_date=date(2025, 9, 1), version=next(VERSIONS)))
    await add_rib(pool, student_id, 0)
    await issue_decision(pool, student_id, schooling_id)
    event = request(student_id, schooling_id)
    await feed(pool, projection.on_payment_requested, event)

    result = await build_payment_file(pool, options)

    # Sent, not blocked: the Etranger variant carries the school's codes and France.
    assert (result.records, result.blocked) == (1, 0)
    assert await pool.fetchval("SELECT state FROM payment_requests WHERE payment_request_id = $1",
                               event.payment_request_id) == "sent"
    [path] = sorted(options.outbox_dir.glob("*.xml"))
    root = etree.fromstring(path.read_bytes())
    [address, _] = root.findall(".//f:ADRESSE", NS)
    assert [(c.tag.split("}")[1], c.text) for c in address] == [
        ("CODETYPEADR", "PRINCIPALE"), ("CODECOMINSEE", "35238"), ("CODEPOSTALCEDEX", "35000"),
        ("CODEINSEEPAYS", "99100")]
    # The projection keeps the street lines and the city for a later rectification (Indu variants).
    row = await pool.fetchrow("SELECT address_lines, address_city_name FROM students WHERE student_id = $1",
                              student_id)
    assert row is not None
    assert (row["address_lines"], row["address_city_name"]) == (["Rue de Carouge 24"], "Genève")


def test_student_defaults_keep_older_rows_readable() -> None:
    # A row projected before the address lines existed reads as no lines, no city.
    student = Student(last_name="X", first_names=("Y",), birth_date=date(2008, 1, 1), sex="male",
                      birth_city_insee=None, birth_country_insee="99100", postal_code="35000", city_insee="35238",
                      country_insee="99100")
    assert (student.address_lines, student.city_name) == ((), None)
