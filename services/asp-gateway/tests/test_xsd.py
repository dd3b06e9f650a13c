"""Our XSD (asp-exchange.md §4.8): the §4.7 sample passes, one broken facet at a time fails, and a record that
breaks it is blocked alone while the rest of the file goes out, on the real database."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import xsd
from aplypro_asp_gateway.adapters.xml_file import payment_file
from aplypro_asp_gateway.domain.errors import PaymentFileInvalid
from aplypro_asp_gateway.domain.model import Blocked, PaymentRecord
from aplypro_asp_gateway.domain.readiness import prepare
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, assemble, build_payment_file
from lxml import etree
from structlog.testing import capture_logs

from .conftest import NS, PARAMS, feed, lea_request, register, request

SAMPLE = (Path(__file__).parent / "fixtures" / "asp_sample_4_7.xml").read_bytes()
BUILT_ON = date(2026, 5, 20)


def sample() -> Any:
    return etree.fromstring(SAMPLE)


def with_text(path: str, value: str, which: int = 0) -> bytes:
    """The sample with the text of one element changed (`which`: its rank among the matches)."""
    root = sample()
    root.findall(path, NS)[which].text = value
    content: bytes = etree.tostring(root)
    return content


def test_the_reference_sample_is_valid() -> None:
    assert xsd.violations(SAMPLE) == []


def test_the_schema_is_a_qualified_restriction_in_the_asp_namespace() -> None:
    schema = etree.parse(str(xsd.SCHEMA_PATH)).getroot()
    assert schema.get("targetNamespace") == "http://www.cnasea.fr/fichier"
    assert (schema.get("elementFormDefault"), schema.get("attributeFormDefault")) == ("qualified", "unqualified")


# One invalid case per facet: (element, value that breaks it, why).
BROKEN = [
    (".//f:CODESITEOPE", "SITEOPERATOR", "s1-10 is longer than 10"),
    (".//f:CODEUTILISATEUR", "usercodeq", "the ASP's pattern forbids a lower-case q"),
    (".//f:PRENOM", "Lea; Marie", "names refuse ';'"),
    (".//f:PRENOM", "Léa", "text is ASCII once transliterated"),
    (".//f:PRENOM", "A" * 21, "PRENOM is at most 20"),
    (".//f:NOMUSAGE", "B" * 51, "NOMUSAGE is at most 50"),
    (".//f:NOMNAISSANCE", "", "NOMNAISSANCE is at least 1 long"),
    (".//f:TITRE", "MLLE", "TITRE is M, MME or MLE"),
    (".//f:DATENAISSANCE", "2008-03-14", "dates are dd/mm/YYYY"),
    (".//f:CODEINSEEPAYSNAI", "100", "countries are 5 digits"),
    (".//f:CODEINSEECOMMUNE", "341720", "communes are 5 characters"),
    (".//f:CODEPOSTALCEDEX", "3400", "postal codes are 5 digits"),
    (".//f:LIBELLEVOIE", "12 BOULEVARD DE LA REPUBLIQUE", "LIBELLEVOIE is at most 28"),
    (".//f:CPLTDISTRIBUTION", "APPARTEMENT 12 RESIDENCE LES PINS BAT A", "CPLTDISTRIBUTION is at most 38"),
    (".//f:CODETYPEADR", "SECONDAIRE", "the address type is PRINCIPALE"),
    (".//f:DOSSIER/f:NUMADM", "ENPUA1B2C3D4E5", "a DA number has 18-19 characters"),
    (".//f:PRESTADOSS/f:NUMADM", "ENPUA1B2C3D4E520250", "a PFMP number has 20-21 characters"),
    (".//f:MONTANTTOTALENGAGE", "600.50", "amounts are whole euros"),
    (".//f:MTTOTALFINANCEMENT", "-300", "amounts are never negative"),
    (".//f:MTTOTALFINANCEMENT", "trois cents", "amounts are numbers"),
    (".//f:VALEUR", "34", "the department has 3 characters"),
    (".//f:CODE", "E", "CODE is D"),
    (".//f:INDICRATTACHUSPRESTADISPO", "Y", "booleans are O or N"),
    (".//f:CODEMODEREGLEMENT", "136", "payment by transfer, 135"),
    (".//f:INTITDEST", "Mme Lea Dupre & fils", "the holder keeps the SEPA characters"),
    (".//f:INTITDEST", "M" * 33, "INTITDEST is at most 32"),
    (".//f:BIC", "AGRIFRPPX", "a BIC has 8 or 11 characters"),
    (".//f:CLECONTROL", "7", "the IBAN check digits are 2"),
    (".//f:ZONEBBAN", "3000 6000", "the BBAN is letters and digits"),
    (".//f:CODEISOPAYS", "FRA", "the IBAN country has 2 letters"),
    (".//f:USPRINC", "USMENJPUBLIC00", "USPRINC is at most 13"),
]


@pytest.mark.parametrize(("path", "value", "why"), BROKEN, ids=[b[2] for b in BROKEN])
def test_a_broken_facet_fails_the_schema_and_names_its_record(path: str, value: str, why: str) -> None:
    which = 1 if path in (".//f:LIBELLEVOIE", ".//f:CPLTDISTRIBUTION") else 0  # ...of the second record
    found = xsd.violations(with_text(path, value, which))
    assert found, why
    in_parametrage = path in (".//f:CODESITEOPE", ".//f:CODEUTILISATEUR")
    expected = None if in_parametrage else (2 if path in (".//f:LIBELLEVOIE", ".//f:CPLTDISTRIBUTION") else 1)
    assert {v.record for v in found} == {expected}


def test_structure_is_checked_too() -> None:
    # A required element missing, an element we never write, an id that is not a long, a second record id.
    root = sample()
    person = root.find(".//f:PERSPHYSIQUE", NS)
    person.remove(person.find("f:DATENAISSANCE", NS))
    assert xsd.violations(etree.tostring(root))
    root = sample()
    etree.SubElement(root.find(".//f:PERSPHYSIQUE", NS), "{http://www.cnasea.fr/fichier}NUMSS").text = "1"
    assert xsd.violations(etree.tostring(root))
    root = sample()
    root.find(".//f:DOSSIER[@idDoss]", NS).set("idDoss", "76543X1")
    assert {v.record for v in xsd.violations(etree.tostring(root))} == {2}
    root = sample()
    root.findall(".//f:ENREGISTREMENT", NS)[1].set("idEnregistrement", "4242")
    assert {(v.record, v.kind) for v in xsd.violations(etree.tostring(root))} == {
        (2, "SCHEMAV_CVC_IDC")}


def test_a_file_holds_at_most_7000_records() -> None:
    root = sample()
    records = root.find("f:ENREGISTREMENTS", NS)
    template = records[0]
    for n in range(7000 - 1):
        clone = copy.deepcopy(template)
        clone.set("idEnregistrement", str(10_000 + n))
        records.append(clone)
    assert len(records) == 7001
    assert [v.record for v in xsd.tree_violations(root)] == [7001]
    records.remove(records[-1])
    assert xsd.tree_violations(root) == []


def test_a_violation_keeps_no_value_of_the_record() -> None:
    found = xsd.violations(with_text(".//f:NOMUSAGE", "Dupre;Zorglubovitch"))
    assert found
    assert "Zorglub" not in repr(found)


def test_assemble_blocks_the_record_that_breaks_the_schema_and_validates_the_rest() -> None:
    # Each in a schooling of its own: two PFMPs of one dossier would leave one file at a time (§4.3).
    good, bad, other = (prepare(lea_request(record_id=n, pfmp_rank=n, schooling_id=uuid.uuid4()), PARAMS) for n in (1, 2, 3))
    assert isinstance(good, PaymentRecord)
    assert isinstance(bad, PaymentRecord)
    assert isinstance(other, PaymentRecord)
    broken = replace(bad, department="34")  # lxml takes it, our XSD does not (3 characters)

    with capture_logs() as logs:
        composition = assemble([good, broken, other], set(), PARAMS, BUILT_ON)

    assert composition.records == [good, other]
    assert composition.blocked == [Blocked(broken.payment_request_id, ("asp_schema_invalid",))]
    assert composition.content == payment_file(PARAMS, [good, other], BUILT_ON)
    assert xsd.violations(composition.content) == []
    # The log names the record and the element, never the values of the record.
    assert [e["record_ids"] for e in logs if e["event"] == "payment_records_schema_invalid"] == [[2]]
    assert "Dupre" not in json.dumps(logs, default=str)


def test_a_file_whose_only_record_breaks_the_schema_is_not_made() -> None:
    record = prepare(lea_request(), PARAMS)
    assert isinstance(record, PaymentRecord)
    broken = replace(record, department="34")  # alone, libxml2 names it without a position: still found

    composition = assemble([broken], set(), PARAMS, BUILT_ON)

    assert (composition.records, composition.content) == ([], None)
    assert composition.blocked == [Blocked(broken.payment_request_id, ("asp_schema_invalid",))]


def test_settings_that_break_the_schema_sink_the_file_not_a_record() -> None:
    record = prepare(lea_request(), PARAMS)
    assert isinstance(record, PaymentRecord)
    with pytest.raises(PaymentFileInvalid):
        assemble([record], set(), replace(PARAMS, user_code="quality"), BUILT_ON)


@pytest.mark.integration
async def test_a_record_that_breaks_the_xsd_is_blocked_alone_and_the_others_are_sent(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # Three students; the middle one's commune code has 6 characters: no check upstream refuses it, lxml
    # writes it, the ASP's schema would not take it (CODECOMINSEE is 5 at most).
    students = [await register(pool, n) for n in range(3)]
    await pool.execute("UPDATE students SET address_city_insee = '352380' WHERE student_id = $1", students[1][0])
    events = [request(*s) for s in students]
    for event in events:
        await feed(pool, projection.on_payment_requested, event)

    result = await build_payment_file(pool, options)

    # The file on disk holds the two others and validates; the third is pending with the schema reason.
    assert (result.records, result.blocked) == (2, 1)
    [path] = sorted(options.outbox_dir.glob("*.xml"))
    content = path.read_bytes()
    assert xsd.violations(content) == []
    rows = {r["payment_request_id"]: r for r in await pool.fetch("SELECT * FROM payment_requests")}
    sent_ids = {e.get("idEnregistrement") for e in etree.fromstring(content).iter("{*}ENREGISTREMENT")}
    assert sent_ids == {str(rows[e.payment_request_id]["record_id"]) for e in (events[0], events[2])}
    assert [rows[e.payment_request_id]["state"] for e in events] == ["sent", "pending", "sent"]
    assert rows[events[1].payment_request_id]["blocking_reasons"] == ["asp_schema_invalid"]
    assert await pool.fetchval("SELECT count(*) FROM file_records") == 2
    # Nothing loops: with no data change the next build sends nothing and blocks nothing more.
    again = await build_payment_file(pool, options)
    assert (again.file_name, again.records) == (None, 0)
