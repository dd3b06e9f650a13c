"""The residence-commune exception table (asp-exchange.md §4.4, §4.6): every CODECOMINSEE we send (France,
Etranger, InduFrance, CorrectionFrance) passes through the operator's table; the birth commune never does."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from aplypro_asp_gateway.adapters import xsd
from aplypro_asp_gateway.adapters.xml_file import payment_file
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.domain.correction import prepare_correction
from aplypro_asp_gateway.domain.model import (
    AspIds,
    CorrectionFranceAddress,
    CorrectionRecord,
    EtrangerAddress,
    FranceAddress,
    InduEtrangerAddress,
    InduFranceAddress,
    PaymentRecord,
)
from aplypro_asp_gateway.domain.modification import build_modification
from aplypro_asp_gateway.domain.readiness import prepare
from aplypro_asp_gateway.domain.rnvp import RnvpAnswer
from aplypro_asp_gateway.entrypoints.service import build_options
from lxml import etree
from pydantic import ValidationError

from .conftest import NS, PARAMS, lea_request
from .test_foreign_address import abroad

# Léa lives in 34172 (Montpellier), was born there, and her school is there too: one fictitious entry moves it.
TABLE = {"34172": "34999"}
WITH_TABLE = replace(PARAMS, commune_exceptions=TABLE)
IDS = AspIds("1234567", "7654321", "9876543")
BUILT_ON = date(2026, 5, 20)


def texts(content: bytes, tag: str) -> list[str]:
    root = etree.fromstring(content)
    return [e.text for e in root.iterfind(f".//f:{tag}", NS)]


def test_a_first_payment_in_france_sends_the_exit_code_and_keeps_the_birth_commune() -> None:
    record = prepare(lea_request(), WITH_TABLE)
    assert isinstance(record, PaymentRecord)
    assert record.address == FranceAddress(postal_code="34000", commune="34999")
    content = payment_file(WITH_TABLE, [record], BUILT_ON)
    assert texts(content, "CODECOMINSEE") == ["34999", "34999"]  # the individual's and the prestation's
    assert texts(content, "CODEINSEECOMMUNE") == ["34172"]  # the birth commune is not a residence
    assert xsd.violations(content) == []


def test_a_student_abroad_sends_the_establishment_commune_through_the_table() -> None:
    record = prepare(abroad(), WITH_TABLE)
    assert isinstance(record, PaymentRecord)
    assert record.address == EtrangerAddress(commune="34999", postal_code="34000")


def test_a_rectification_in_france_sends_the_exit_code_and_one_abroad_has_no_commune() -> None:
    student = lea_request().student
    assert student is not None
    in_france = lea_request(student=replace(student, address_lines=("12 rue de la Loge",)))
    record = build_modification(in_france, WITH_TABLE, IDS, paid_cents=20000)
    assert isinstance(record, PaymentRecord)
    assert isinstance(record.address, InduFranceAddress)
    assert record.address.commune == "34999"
    foreign = build_modification(abroad(), WITH_TABLE, IDS, paid_cents=20000)
    assert isinstance(foreign, PaymentRecord)
    assert isinstance(foreign.address, InduEtrangerAddress)  # no CODECOMINSEE to map


def test_a_correction_maps_rnvp_s_code_and_the_stored_one() -> None:
    request = lea_request(asp_ids=IDS, pfmp_number_sent="ENPUA1B2C3D4E52025001")
    from_rnvp = prepare_correction(request, WITH_TABLE, RnvpAnswer(voie_den="DE LA LOGE", code_postal="34000",
                                                                   code_insee="34172"))
    stored = prepare_correction(request, WITH_TABLE, RnvpAnswer(voie_den="DE LA LOGE", code_postal="34000"))
    for record in (from_rnvp, stored):
        assert isinstance(record, CorrectionRecord)
        assert isinstance(record.address, CorrectionFranceAddress)
        assert record.address.commune == "34999"
        assert texts(payment_file(WITH_TABLE, [record], BUILT_ON), "CODECOMINSEE") == ["34999", "34999"]


def test_a_code_outside_the_table_and_an_empty_table_change_nothing() -> None:
    record = prepare(lea_request(), replace(PARAMS, commune_exceptions={"35238": "35999"}))
    assert isinstance(record, PaymentRecord)
    assert record.address == FranceAddress(postal_code="34000", commune="34172")
    plain = prepare(lea_request(), PARAMS)
    assert isinstance(plain, PaymentRecord)
    assert plain.address == record.address


def test_the_table_is_a_setting_read_as_json_and_a_malformed_entry_refuses_to_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APLYPRO_ASP_COMMUNE_EXCEPTIONS", '{"34172": "34999", "2a004": "2A041"}')
    settings = AspSettings()
    assert settings.commune_exceptions == {"34172": "34999", "2A004": "2A041"}
    params = build_options(settings).params
    assert params.commune_exceptions == {"34172": "34999", "2A004": "2A041"}
    record = prepare(lea_request(), params)
    assert isinstance(record, PaymentRecord)
    assert record.address == FranceAddress(postal_code="34000", commune="34999")
    for bad in ('{"3417": "34999"}', '{"34172": "34 99"}', '{"34172": ""}'):
        monkeypatch.setenv("APLYPRO_ASP_COMMUNE_EXCEPTIONS", bad)
        with pytest.raises(ValidationError, match="commune exceptions"):
            AspSettings()
