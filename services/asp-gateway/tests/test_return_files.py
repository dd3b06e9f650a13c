"""Reading every ASP return file of asp-exchange.md §5 offline: each kind, its encodings, and the lines a
matcher needs (record id + NUMADM for CSV answers, the prestation id for payments and recoveries)."""

from __future__ import annotations

from datetime import date

import pytest
from aplypro_asp_gateway.adapters.returns import read_return_bytes
from aplypro_asp_gateway.adapters.returns.errors import UnknownReturnKind
from aplypro_asp_gateway.domain.return_lines import AspIds, LineState, ReturnKind

from .return_samples import (
    CORRECTION_UPLOAD,
    DOC_INTEGRATION_LINE,
    DOC_PAYMENTS,
    DOC_RECOVERY,
    DOC_REJECT_LINE,
    INTEGRATIONS_HEADER,
    INTEGRATIONS_NAME,
    PAYMENTS_NAME,
    RECOVERY_NAME,
    REJECTS_HEADER,
    REJECTS_NAME,
    UPLOAD,
    csv_file,
    payment,
    payments_file,
)


def test_the_documented_integration_line_gives_the_request_integrated_with_its_three_asp_ids() -> None:
    parsed = read_return_bytes(INTEGRATIONS_NAME, csv_file(INTEGRATIONS_HEADER, [DOC_INTEGRATION_LINE]))

    assert parsed.kind is ReturnKind.INTEGRATIONS
    assert parsed.upload_name == UPLOAD + ".xml"  # the file of ours this answers: lines must belong to it
    [line] = parsed.lines
    assert (line.record_id, line.numadm, line.state, line.reason) == (4242, "DOSS", LineState.INTEGRATED, None)
    assert line.asp_ids == AspIds(individual="1234890", dossier="7654402", prestation="9876610",
                                  prestation_numadm="51234", prestation_individual="1234890")
    assert line.line_no == 2


@pytest.mark.parametrize(("newline", "bom"), [("\n", False), ("\r\n", False), ("\n", True)])
def test_integrations_read_the_same_with_crlf_or_a_bom(newline: str, bom: bool) -> None:
    data = csv_file(INTEGRATIONS_HEADER, [DOC_INTEGRATION_LINE, "4243;1234891;;7654403;DOSS;9876611;51235;"],
                    newline=newline, bom=bom, encoding="utf-8" if bom else "cp1252")

    lines = read_return_bytes(INTEGRATIONS_NAME, data).lines

    assert [(x.record_id, x.asp_ids and x.asp_ids.prestation) for x in lines] == [(4242, "9876610"),
                                                                                (4243, "9876611")]


def test_an_integration_line_without_its_asp_ids_is_invalid_not_integrated() -> None:
    data = csv_file(INTEGRATIONS_HEADER, ["4242;1234890;;;DOSS;9876610;51234;", "4243;12x4;;7;D;8;9;"])

    missing, garbled = read_return_bytes(INTEGRATIONS_NAME, data).lines

    assert (missing.state, missing.reason_code, missing.record_id) == (LineState.INVALID, "missing_asp_ids", 4242)
    assert (garbled.state, garbled.reason_code, garbled.record_id) == (LineState.INVALID, "bad_asp_id", 4243)


def test_the_documented_reject_in_latin_1_is_read_with_its_accents_and_classified() -> None:
    data = csv_file(REJECTS_HEADER, [DOC_REJECT_LINE], encoding="latin-1")
    assert "numéro".encode("latin-1") in data  # the file really is ISO-8859-1, not UTF-8

    parsed = read_return_bytes(REJECTS_NAME, data)

    assert (parsed.kind, parsed.encoding, parsed.upload_name) == (ReturnKind.REJECTS, "cp1252", UPLOAD + ".xml")
    [line] = parsed.lines
    assert (line.record_id, line.state, line.reason_code) == (4242, LineState.REJECTED, "numadm_not_unique")
    assert line.asp_text == "Le numéro administratif ENPUA1B2C3D4E520250 n'est pas unique"
    assert line.numadm is None
    assert line.asp_ids is None


@pytest.mark.parametrize(("encoding", "bom"), [("cp1252", False), ("utf-8", False), ("utf-8", True)])
def test_rejects_with_accents_read_the_same_in_windows_1252_utf_8_or_with_a_bom(encoding: str, bom: bool) -> None:
    lines = [
        "4242;PRESTADOSS;ENPUA1B2C3D4E52025001;La commune de naissance sélectionnée n'existait pas à la date de "
        "naissance de l'individu;",
        "4243;INDIVIDU;;Les caractères autorisés pour l'intitulé SEPA sont limités à l'alphabet latin, aux "
        "chiffres, au caractère espace et aux caractères suivants : / - ? : ( ) . , ' + ;1234567",
        "4244;;;Coord. paiement bloquees;",
        "4245;;;Œuvre inconnue — motif libre;",  # Windows-1252 has Œ and — where ISO-8859-1 has none
    ]

    parsed = read_return_bytes(REJECTS_NAME, csv_file(REJECTS_HEADER, lines, encoding=encoding, bom=bom))

    assert [(x.record_id, x.reason_code) for x in parsed.lines] == [
        (4242, "birth_commune_not_found"), (4243, "invalid_characters"), (4244, "payment_coordinates_blocked"),
        (4245, "fallback_message")]
    assert parsed.lines[0].numadm == "ENPUA1B2C3D4E52025001"
    assert parsed.lines[0].entity_type == "PRESTADOSS"
    assert parsed.lines[1].asp_ids == AspIds(duplicate_individual="1234567")
    assert parsed.lines[3].asp_text == "Œuvre inconnue — motif libre"


def test_a_semicolon_inside_a_reject_motif_stays_in_the_motif() -> None:
    data = csv_file(REJECTS_HEADER, ["4242;;;Le RIB FR76 3000 est Invalide; voir agence;"])

    [line] = read_return_bytes(REJECTS_NAME, data).lines

    assert (line.record_id, line.reason_code) == (4242, "invalid_rib")
    assert line.asp_text == "Le RIB FR76 3000 est Invalide; voir agence"


def test_the_motif_may_quote_an_iban_but_the_line_repr_never_shows_it() -> None:
    data = csv_file(REJECTS_HEADER, ["4242;;;Le RIB FR7630006000011234567890189 est Invalide;"])

    [line] = read_return_bytes(REJECTS_NAME, data).lines

    assert line.reason_code == "invalid_rib"
    assert "FR7630006000011234567890189" not in repr(line)


def test_address_correction_answers_are_their_own_kinds_and_change_no_payment_state() -> None:
    integrations = read_return_bytes(f"identifiants_generes_{CORRECTION_UPLOAD}.csv",
                                     csv_file(INTEGRATIONS_HEADER, [DOC_INTEGRATION_LINE]))
    rejects = read_return_bytes(f"rejets_integ_idp_{CORRECTION_UPLOAD}.csv",
                                csv_file(REJECTS_HEADER, ["4242;;;Le code saisi 34999 n'existe pas dans le "
                                                          "LOCALISATIONGEOGRAPHIQUE;"], encoding="latin-1"))

    assert (integrations.kind, integrations.upload_name) == (ReturnKind.CORRECTION_INTEGRATIONS,
                                                             CORRECTION_UPLOAD + ".xml")
    assert integrations.lines[0].state is LineState.ADDRESS_CORRECTED
    assert integrations.lines[0].asp_ids == AspIds(individual="1234890", dossier="7654402", prestation="9876610",
                                                   prestation_numadm="51234", prestation_individual="1234890")
    assert rejects.kind is ReturnKind.CORRECTION_REJECTS
    assert (rejects.lines[0].state, rejects.lines[0].reason_code) == (LineState.ADDRESS_REJECTED,
                                                                      "localisationgeographique_not_found")


def test_the_documented_payments_give_a_paid_line_with_its_net_amount_in_cents_and_an_unpaid_one() -> None:
    parsed = read_return_bytes(PAYMENTS_NAME, DOC_PAYMENTS)

    paid, unpaid = parsed.lines
    assert parsed.kind is ReturnKind.PAYMENTS
    assert parsed.upload_name is None
    assert (paid.state, paid.net_cents, paid.paid_on) == (LineState.PAID, 30000, date(2026, 6, 5))
    assert paid.asp_ids == AspIds(prestation="9876610")
    assert paid.record_id is None
    assert paid.iban == "FR7630006000011234567890189"  # the account paid: kept, but out of repr
    assert "30006000011234567890189" not in repr(paid)
    assert (unpaid.state, unpaid.reason_code, unpaid.asp_code) == (LineState.UNPAID, "payment_difficulty", "RJT")
    assert unpaid.asp_ids == AspIds(prestation="9876543")
    assert unpaid.net_cents is None


@pytest.mark.parametrize(("text", "cents"), [
    ("300.00", 30000), ("225.0", 22500), ("0.29", 29), ("1234.57", 123457), ("600", 60000), ("212,45", 21245),
    ("4.35", 435), ("0.07", 7), ("1.005000", None),
])
def test_a_net_amount_becomes_exact_integer_cents(text: str, cents: int | None) -> None:
    # 0.29 * 100 is 28.999999999999996 in binary floats: a float parser would pay 28 cents
    data = payments_file([payment("PAYE", "9876610", net=text, day="05/06/2026")])

    [line] = read_return_bytes(PAYMENTS_NAME, data).lines

    if cents is None:  # more than two decimals that are not zeros: not an amount in cents
        assert (line.state, line.reason_code, line.net_cents) == (LineState.INVALID, "bad_amount", None)
    else:
        assert (line.state, line.net_cents) == (LineState.PAID, cents)


def test_payments_read_the_same_without_namespace_or_with_a_prefix_and_unknown_elements() -> None:
    plain = payments_file([payment("PAYE", "9876610", net="300.00", day="05/06/2026",
                                   extra="\n    <NOUVEAU><X>1</X></NOUVEAU>")], namespace=False)
    prefixed = ('<?xml version="1.0" encoding="UTF-8"?>\n<f:LISTEPAIEMENT xmlns:f="http://www.cnasea.fr/fichier">'
                + payment("PAYE", "9876610", net="300.00", day="05/06/2026", prefix="f:")
                + "</f:LISTEPAIEMENT>").encode()

    for data in (plain, prefixed):
        [line] = read_return_bytes(PAYMENTS_NAME, data).lines
        assert (line.state, line.net_cents, line.asp_ids) == (LineState.PAID, 30000, AspIds(prestation="9876610"))


def test_faulty_payment_lines_are_invalid_while_the_rest_of_the_file_reads() -> None:
    two = ("<LISTEPRESTADOSS><PRESTADOSS><IDPRESTADOSS>1</IDPRESTADOSS></PRESTADOSS>"
           "<PRESTADOSS><IDPRESTADOSS>2</IDPRESTADOSS></PRESTADOSS></LISTEPRESTADOSS>")
    data = payments_file([
        payment("PAYE", "9876610", net="300.00", day="05/06/2026"),
        payment("REMBOURSE", "9876611", net="10.00"),  # unknown ETATPAIEMENT
        payment("PAYE", None, net="10.00"),  # no key
        payment("PAYE", None, net="10.00", extra=two),  # two prestations, one amount
        payment("PAYE", "9876612"),  # paid, but how much?
        payment("PAYE", "9876613", net="10.00", day="31/02/2026"),
    ])

    lines = read_return_bytes(PAYMENTS_NAME, data).lines

    assert [(x.line_no, x.state, x.reason_code) for x in lines] == [
        (1, LineState.PAID, None), (2, LineState.INVALID, "unknown_payment_state"),
        (3, LineState.INVALID, "missing_prestation_id"), (4, LineState.INVALID, "several_prestations"),
        (5, LineState.INVALID, "missing_amount"), (6, LineState.INVALID, "bad_date")]
    assert lines[3].prestation_ids == ("1", "2")  # kept for the operator report


@pytest.mark.parametrize(("code", "key"), [("ICO", "previous_bank_rejection"), ("IDR", "anomaly_detected"),
                                           ("INR", "processing_control"), ("IPR", "control_anomaly"),
                                           ("RJT", "payment_difficulty"), ("SFR", "fraud_suspicion"),
                                           ("IAL", "fallback_message"), (None, "fallback_message")])
def test_each_payment_failure_code_in_a_file_gives_its_reason(code: str | None, key: str) -> None:
    data = payments_file([payment("INVALIDE", "9876543", code=code, label="Libellé ASP")])

    [line] = read_return_bytes(PAYMENTS_NAME, data).lines

    assert (line.state, line.reason_code, line.asp_code) == (LineState.UNPAID, key, code)


def test_the_documented_recovery_order_is_a_recovery_of_the_absolute_amount() -> None:
    parsed = read_return_bytes(RECOVERY_NAME, DOC_RECOVERY)

    [line] = parsed.lines
    assert parsed.kind is ReturnKind.RECOVERY_ORDERS
    assert (line.state, line.claimed_cents, line.order_posted_on) == (LineState.RECOVERY, 15000, date(2026, 6, 12))
    assert line.asp_ids == AspIds(prestation="9870001")
    assert line.net_cents is None


def test_an_invalid_recovery_order_is_unpaid_with_its_codemotifor() -> None:
    data = (b'<LISTEOR><ORDREREVERSEMENT><ETATPAIEMENT>INVALIDE</ETATPAIEMENT><LISTEPRESTADOSS><PRESTADOSS>'
            b'<IDPRESTADOSS>9870002</IDPRESTADOSS></PRESTADOSS></LISTEPRESTADOSS><MTDEMANDEOR>150.00</MTDEMANDEOR>'
            b'<CODEMOTIFOR>C1</CODEMOTIFOR><LIBELLEMOTIFOR>Deces</LIBELLEMOTIFOR></ORDREREVERSEMENT>'
            b'<ORDREREVERSEMENT><ETATPAIEMENT>INVALIDE</ETATPAIEMENT><LISTEPRESTADOSS><PRESTADOSS>'
            b'<IDPRESTADOSS>9870003</IDPRESTADOSS></PRESTADOSS></LISTEPRESTADOSS><CODEMOTIFOR>Z9</CODEMOTIFOR>'
            b'</ORDREREVERSEMENT></LISTEOR>')

    death, other = read_return_bytes(RECOVERY_NAME, data).lines

    assert (death.state, death.reason_code, death.asp_code, death.claimed_cents) == (
        LineState.UNPAID, "beneficiary_deceased", "C1", 15000)
    assert (other.state, other.reason_code) == (LineState.UNPAID, "fallback_message")


@pytest.mark.parametrize(("data", "kind"), [
    (DOC_PAYMENTS, ReturnKind.PAYMENTS), (DOC_RECOVERY, ReturnKind.RECOVERY_ORDERS),
    (csv_file(INTEGRATIONS_HEADER, [DOC_INTEGRATION_LINE]), ReturnKind.INTEGRATIONS),
    (csv_file(REJECTS_HEADER, [DOC_REJECT_LINE], encoding="latin-1"), ReturnKind.REJECTS),
    (csv_file(REJECTS_HEADER, [DOC_REJECT_LINE], encoding="utf-8", bom=True), ReturnKind.REJECTS),
])
def test_a_renamed_file_is_recognised_by_its_content(data: bytes, kind: ReturnKind) -> None:
    parsed = read_return_bytes("download (1).dat", data)

    assert parsed.kind is kind
    assert parsed.lines[0].asp_ids is not None or parsed.lines[0].record_id == 4242


def test_a_file_unknown_by_name_and_content_or_by_name_when_strict_is_refused() -> None:
    with pytest.raises(UnknownReturnKind) as unknown:
        read_return_bytes("notes.txt", b"bonjour;tout;le;monde\n")
    with pytest.raises(UnknownReturnKind):
        read_return_bytes("download.xml", DOC_PAYMENTS, by_content=False)  # the poller trusts names only (G7)
    with pytest.raises(UnknownReturnKind):
        read_return_bytes("rejets_integ_idp_autre_chose.csv", csv_file(REJECTS_HEADER, []), by_content=False)

    assert unknown.value.code == "unknown_return_kind"


def test_payments_read_with_a_bom_or_an_iso_8859_1_declaration() -> None:
    bom = b"\xef\xbb\xbf" + DOC_PAYMENTS
    latin = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<LISTEPAIEMENT>'
             + payment("INVALIDE", "9876543", code="RJT", label="Compte clôturé") + "</LISTEPAIEMENT>").encode("latin-1")

    assert [x.state for x in read_return_bytes(PAYMENTS_NAME, bom).lines] == [LineState.PAID, LineState.UNPAID]
    assert read_return_bytes(PAYMENTS_NAME, latin).lines[0].asp_text == "Compte clôturé"


def test_entities_in_a_return_are_never_expanded_nor_fetched() -> None:
    data = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE LISTEPAIEMENT [<!ENTITY local SYSTEM "file:///etc/hostname"><!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<LISTEPAIEMENT><PAIEMENT><ETATPAIEMENT>INVALIDE</ETATPAIEMENT><LISTEPRESTADOSS><PRESTADOSS>
<IDPRESTADOSS>1</IDPRESTADOSS></PRESTADOSS></LISTEPRESTADOSS><CODEMOTIFINVAL>RJT</CODEMOTIFINVAL>
<LIBELLEMOTIFINVAL>x&local;&b;</LIBELLEMOTIFINVAL></PAIEMENT></LISTEPAIEMENT>"""

    [line] = read_return_bytes(PAYMENTS_NAME, data).lines

    assert (line.state, line.reason_code) == (LineState.UNPAID, "payment_difficulty")
    assert line.asp_text is None  # the text holding unresolved entity references is not read
