"""The payment file, parsed back with lxml (asp-exchange.md §4.1, §4.2, §4.7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

from aplypro_asp_gateway.adapters.xml_file import NAMESPACE, payment_file
from aplypro_asp_gateway.domain.model import Parametrage, PaymentRecord, PendingRequest
from aplypro_asp_gateway.domain.readiness import prepare
from lxml import etree

NS = {"f": NAMESPACE}
BUILT_ON = date(2026, 5, 20)

# The first record of the §4.7 sample, as the ASP expects it (our placeholder NUMADM happens to match:
# the test schooling id starts with the sample's administrative number).
SAMPLE_RECORD = """
<ENREGISTREMENT xmlns="http://www.cnasea.fr/fichier" idEnregistrement="4242"><INDIVIDU>
<NATUREINDIVIDU>P</NATUREINDIVIDU><PERSPHYSIQUE><TITRE>MME</TITRE><PRENOM>Lea, Marie, Anne</PRENOM>
<NOMUSAGE>Dupre</NOMUSAGE><NOMNAISSANCE>Dupre</NOMNAISSANCE><DATENAISSANCE>14/03/2008</DATENAISSANCE>
<CODEINSEEPAYSNAI>99100</CODEINSEEPAYSNAI><CODEINSEECOMMUNE>34172</CODEINSEECOMMUNE></PERSPHYSIQUE>
<ADRESSESINDIVIDU><ADRESSE><CODETYPEADR>PRINCIPALE</CODETYPEADR><CODEINSEEPAYS>99100</CODEINSEEPAYS>
<CODEPOSTALCEDEX>34000</CODEPOSTALCEDEX><CODECOMINSEE>34172</CODECOMINSEE></ADRESSE></ADRESSESINDIVIDU>
<LISTEDOSSIER><DOSSIER><NUMADM>ENPUA1B2C3D4E520250</NUMADM><CODEDISPOSITIF>APLYPRO</CODEDISPOSITIF>
<LISTEPRESTADOSS><PRESTADOSS><NUMADM>ENPUA1B2C3D4E52025001</NUMADM><CODEPRESTADISPO>APLYPRO</CODEPRESTADISPO>
<DATECOMPLETUDE>20/05/2026</DATECOMPLETUDE><DATERECEPTIONPRESTADOSS>20/05/2026</DATERECEPTIONPRESTADOSS>
<MONTANTTOTALENGAGE>600</MONTANTTOTALENGAGE><CODE>D</CODE><VALEUR>034</VALEUR>
<INDICRATTACHUSPRESTADISPO>O</INDICRATTACHUSPRESTADISPO><ADRESSESPRESTADOSS><ADRESSE>
<CODETYPEADR>PRINCIPALE</CODETYPEADR><CODEINSEEPAYS>99100</CODEINSEEPAYS><CODEPOSTALCEDEX>34000</CODEPOSTALCEDEX>
<CODECOMINSEE>34172</CODECOMINSEE></ADRESSE></ADRESSESPRESTADOSS><COORDPAIESPRESTADOSS><COORDPAIE>
<CODETYPECOORDPAIE>PRINCIPALE</CODETYPECOORDPAIE><CODEMODEREGLEMENT>135</CODEMODEREGLEMENT>
<INTITDEST>Mme Lea Dupre</INTITDEST><IBAN><BIC>AGRIFRPP</BIC><CLECONTROL>76</CLECONTROL>
<ZONEBBAN>30006000011234567890189</ZONEBBAN><CODEISOPAYS>FR</CODEISOPAYS></IBAN></COORDPAIE>
</COORDPAIESPRESTADOSS><LISTEELEMENTPAIEMENT><ELEMENTPAIEMENT><CODEOBJET>VERSE001</CODEOBJET><LISTEVERSEMENT>
<VERSEMENT><CODETYPEVERSEMENT>PAIEMENT</CODETYPEVERSEMENT><LISTEFINANCEMENT><FINANCEMENT>
<MTTOTALFINANCEMENT>300</MTTOTALFINANCEMENT><USPRINC>USMENJPUB</USPRINC></FINANCEMENT></LISTEFINANCEMENT>
</VERSEMENT></LISTEVERSEMENT></ELEMENTPAIEMENT></LISTEELEMENTPAIEMENT></PRESTADOSS></LISTEPRESTADOSS>
</DOSSIER></LISTEDOSSIER></INDIVIDU></ENREGISTREMENT>
"""


def canonical(element: etree._Element) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True)
    reparsed = etree.fromstring(etree.tostring(element), parser)
    canonical_bytes: bytes = etree.tostring(reparsed, method="c14n")
    return canonical_bytes


def record(make_request: Callable[..., PendingRequest], params: Parametrage, **changes: object) -> PaymentRecord:
    outcome = prepare(make_request(**changes), params)
    assert isinstance(outcome, PaymentRecord)
    return outcome


def test_the_file_starts_with_the_asp_declaration_and_is_pure_ascii(
    make_request: Callable[..., PendingRequest], params: Parametrage
) -> None:
    content = payment_file(params, [record(make_request, params)], BUILT_ON)
    assert content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<FICHIER xmlns="http://www.cnasea.fr/fichier">')
    assert content.isascii()


def test_a_first_payment_record_matches_the_reference_sample(
    make_request: Callable[..., PendingRequest], params: Parametrage
) -> None:
    root = etree.fromstring(payment_file(params, [record(make_request, params)], BUILT_ON))
    [element] = root.findall("f:ENREGISTREMENTS/f:ENREGISTREMENT", NS)
    parser = etree.XMLParser(remove_blank_text=True)
    assert canonical(element) == canonical(etree.fromstring(SAMPLE_RECORD.replace("\n", ""), parser))


def test_parametrage_carries_the_configured_codes(
    make_request: Callable[..., PendingRequest], params: Parametrage
) -> None:
    custom = replace(params, site_operator="OPE42", user_code="U1", dispo="DISPO", presta_dispo="PRESTA")
    root = etree.fromstring(payment_file(custom, [record(make_request, custom)], BUILT_ON))
    values = [(child.tag.split("}")[1], child.text) for child in root.find("f:PARAMETRAGE", NS)]
    assert values == [("CODESITEOPE", "OPE42"), ("CODEUTILISATEUR", "U1"), ("CODEDISPO", "DISPO"),
                      ("CODEPRESTADISPO", "PRESTA")]


def test_each_request_gets_one_record_with_its_id_iban_split_and_whole_euros(
    make_request: Callable[..., PendingRequest], params: Parametrage
) -> None:
    first = record(make_request, params)
    second = record(make_request, params, record_id=4243, amount_cents=45000)
    root = etree.fromstring(payment_file(params, [first, second], BUILT_ON))
    records = root.findall("f:ENREGISTREMENTS/f:ENREGISTREMENT", NS)
    assert [r.get("idEnregistrement") for r in records] == ["4242", "4243"]
    iban = records[1].find(".//f:COORDPAIE/f:IBAN", NS)
    parts = {child.tag.split("}")[1]: child.text for child in iban}
    assert parts == {"BIC": "AGRIFRPP", "CLECONTROL": "76", "ZONEBBAN": "30006000011234567890189",
                     "CODEISOPAYS": "FR"}
    assert parts["CODEISOPAYS"] + parts["CLECONTROL"] + parts["ZONEBBAN"] == "FR7630006000011234567890189"
    assert records[1].findtext(".//f:MTTOTALFINANCEMENT", namespaces=NS) == "450"
    assert records[1].findtext(".//f:MONTANTTOTALENGAGE", namespaces=NS) == "600"


def test_a_student_born_abroad_has_no_birth_commune_element(
    make_request: Callable[..., PendingRequest], params: Parametrage
) -> None:
    student = make_request().student
    assert student is not None
    born_abroad = replace(student, birth_country_insee="99350", birth_city_insee=None)
    root = etree.fromstring(payment_file(params, [record(make_request, params, student=born_abroad)], BUILT_ON))
    assert root.find(".//f:CODEINSEECOMMUNE", NS) is None
    assert root.findtext(".//f:CODEINSEEPAYSNAI", namespaces=NS) == "99350"


def test_an_empty_batch_still_makes_a_well_formed_file(params: Parametrage) -> None:
    root = etree.fromstring(payment_file(params, [], BUILT_ON))
    assert root.find("f:ENREGISTREMENTS", NS) is not None
    assert root.findall(".//f:ENREGISTREMENT", NS) == []
