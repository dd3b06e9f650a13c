"""The address-correction file (asp-exchange.md §4.4, §4.9): RNVP's answer as the CorrectionFrance address, a
student abroad as CorrectionEtranger, the record's shape (bank block on the individual, `modification="O"` on
all three levels, no payment element) and our XSD accepting it; what keeps a PFMP out of one."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from aplypro_asp_gateway.adapters import xsd
from aplypro_asp_gateway.adapters.xml_file import payment_file
from aplypro_asp_gateway.domain.correction import prepare_correction, refusal_reasons
from aplypro_asp_gateway.domain.model import (
    AspIds,
    Blocked,
    CorrectionFranceAddress,
    CorrectionRecord,
    InduEtrangerAddress,
    PendingRequest,
)
from aplypro_asp_gateway.domain.rnvp import RnvpAnswer, correction_france
from lxml import etree

from .conftest import NS, PARAMS, lea_request

IDS = AspIds(individu="1234567", dossier="7654321", prestation="9876543")
# The second sample student's street as RNVP gives it back (§4.4 CorrectionFrance example).
REPUBLIQUE = RnvpAnswer(voie_num="12", voie_type="BOULEVARD", voie_den="DE LA REPUBLIQUE",
                        ligne3="APP 12 RES LES PINS BAT A", code_postal="13001", code_insee="13201")


def integrated(**changes: object) -> PendingRequest:
    return lea_request(asp_ids=IDS, pfmp_number_sent="ENPUA1B2C3D4E52025001", **changes)


def abroad(request: PendingRequest) -> PendingRequest:
    """The student lives in Geneva (§4.4 InduEtranger example)."""
    assert request.student is not None
    return replace(request, student=replace(request.student, country_insee="99140", city_name="Genève",
                                            postal_code="1205",
                                            address_lines=("Rue de Carouge 24", "Appartement 3")))


def test_rnvp_s_answer_is_the_correction_france_address_of_the_reference_example() -> None:
    reasons: list[str] = []
    address = correction_france(REPUBLIQUE, "13201", reasons)
    assert reasons == []
    assert address == CorrectionFranceAddress(street="DE LA REPUBLIQUE", postal_code="13001", commune="13201",
                                              number=12, road_type="BD", complement="APP 12 RES LES PINS BAT A")


def test_a_road_type_that_cannot_be_coded_goes_whole_into_the_complement_and_bis_is_coded() -> None:
    boucle = correction_france(RnvpAnswer(voie_num="15", voie_type="BOUCLE", voie_den="DES PRES DE SAINT PIERRE",
                                          code_postal="35000"), "35238", [])
    assert boucle is not None
    assert (boucle.road_type, boucle.complement, boucle.commune) == (
        None, "15 BOUCLE DES PRES DE SAINT PIERRE", "35238")  # RNVP gave no codeInsee: the stored one
    bis = correction_france(RnvpAnswer(voie_num="3", voie_bis="bis", voie_type="RUE", voie_den="DE NANTES",
                                       code_postal="35000", code_insee="35238"), None, [])
    assert bis is not None
    assert (bis.number, bis.extension, bis.road_type, bis.complement) == (3, "B", "RUE", None)
    other = correction_france(RnvpAnswer(voie_num="3", voie_bis="A", voie_den="DE NANTES", ligne3="ETG 2",
                                         code_postal="35000", code_insee="35238"), None, [])
    assert other is not None
    assert (other.extension, other.complement) == (None, "A ETG 2")  # an uncoded voieBis, then ligne3


def test_an_answer_without_street_name_is_nothing_found() -> None:
    reasons: list[str] = []
    assert correction_france(RnvpAnswer(code_postal="35000"), "35238", reasons) is None
    assert reasons == ["rnvp_address_not_found"]


def test_the_correction_file_carries_the_ids_the_bank_block_twice_and_no_payment_and_passes_our_xsd() -> None:
    france = prepare_correction(integrated(), PARAMS, REPUBLIQUE)
    foreign = prepare_correction(abroad(integrated(record_id=4243)), PARAMS, None)
    assert isinstance(france, CorrectionRecord)
    assert isinstance(foreign, CorrectionRecord)
    assert isinstance(foreign.address, InduEtrangerAddress)  # CorrectionEtranger = InduEtranger (§4.4)

    content = payment_file(PARAMS, [france, foreign], date(2026, 5, 20))

    assert xsd.violations(content) == []
    root = etree.fromstring(content)
    records = root.findall(".//f:ENREGISTREMENT", NS)
    assert [r.get("idEnregistrement") for r in records] == ["4242", "4243"]
    for record in records:
        assert [e.get("modification") for e in (record.find(".//f:INDIVIDU", NS), record.find(".//f:DOSSIER", NS),
                                                record.find(".//f:PRESTADOSS", NS))] == ["O", "O", "O"]
        assert record.find("f:INDIVIDU", NS).get("idIndividu") == "1234567"
        assert record.find("f:INDIVIDU/f:COORDPAIESINDIVIDU/f:COORDPAIE/f:IBAN/f:ZONEBBAN", NS) is not None
        assert record.find(".//f:PRESTADOSS/f:COORDPAIESPRESTADOSS", NS) is not None
        assert record.find(".//f:LISTEELEMENTPAIEMENT", NS) is None
    street = records[0].find("f:INDIVIDU/f:ADRESSESINDIVIDU/f:ADRESSE", NS)
    assert {e.tag.split("}")[1]: e.text for e in street} == {
        "CODETYPEADR": "PRINCIPALE", "NUMEROVOIE": "12", "LIBELLEVOIE": "DE LA REPUBLIQUE", "CODETYPEVOIE": "BD",
        "CPLTDISTRIBUTION": "APP 12 RES LES PINS BAT A", "CODECOMINSEE": "13201", "CODEINSEEPAYS": "99100",
        "CODEPOSTALCEDEX": "13001"}
    assert records[1].findtext(".//f:ADRESSE/f:LOCALITEETRANGER", namespaces=NS) == "Geneve"


def test_a_pfmp_the_asp_never_integrated_is_refused_and_rnvp_finding_nothing_leaves_it_out() -> None:
    assert refusal_reasons(lea_request(), PARAMS) == ("missing_asp_ids",)
    assert refusal_reasons(integrated(), PARAMS) == ()  # RNVP not asked yet: nothing else stops it
    left_out = prepare_correction(integrated(), PARAMS, None)
    assert isinstance(left_out, Blocked)
    assert left_out.reasons == ("rnvp_address_not_found",)
