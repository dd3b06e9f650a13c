"""A truncated or malformed return file is refused whole, with a stable code and a line number, and its text
never quotes the file (asp-exchange.md §9.2 G3/G4: refused whole, read again when complete)."""

from __future__ import annotations

import pytest
from aplypro_asp_gateway.adapters.returns import ReturnFileRefused, read_return_bytes

from .return_samples import (
    DOC_INTEGRATION_LINE,
    DOC_PAYMENTS,
    DOC_RECOVERY,
    INTEGRATIONS_HEADER,
    INTEGRATIONS_NAME,
    PAYMENTS_NAME,
    RECOVERY_NAME,
    REJECTS_HEADER,
    REJECTS_NAME,
    csv_file,
    generated_payments,
    payment,
    payments_file,
)

NAME, IBAN = "Dupré", "FR7630006000011234567890189"


def refusal(name: str, data: bytes) -> ReturnFileRefused:
    with pytest.raises(ReturnFileRefused) as refused:
        read_return_bytes(name, data)
    return refused.value


@pytest.mark.parametrize("cut", [len(DOC_PAYMENTS) - 2, len(DOC_PAYMENTS) - 17, len(DOC_PAYMENTS) - 30, 400, 260,
                                 120, 60, 40])
def test_a_payments_file_cut_anywhere_is_refused_whole_as_truncated(cut: int) -> None:
    refused = refusal(PAYMENTS_NAME, DOC_PAYMENTS[:cut])

    assert refused.code == "truncated", refused
    assert refused.line_no is not None


def test_a_long_payments_file_cut_after_many_complete_records_gives_no_line_at_all() -> None:
    data = generated_payments(500)

    refused = refusal(PAYMENTS_NAME, data[: len(data) * 2 // 3])

    assert refused.code == "truncated"  # not 330 lines applied and the rest lost


def test_a_recovery_file_without_its_closing_element_is_truncated() -> None:
    assert refusal(RECOVERY_NAME, DOC_RECOVERY.replace(b"</LISTEOR>\n", b"")).code == "truncated"


def test_mismatched_tags_are_not_well_formed_and_the_text_names_no_value() -> None:
    data = payments_file([payment("PAYE", "1", net="300.00", iban=IBAN),
                          payment("PAYE", "2", net="300.00", iban=IBAN).replace("</MTNET>", "</MTNT>"),
                          payment("PAYE", "3", net="300.00", label=NAME)])

    refused = refusal(PAYMENTS_NAME, data)

    assert (refused.code, refused.line_no) == ("xml_not_well_formed", 12)  # the MTNET line of the second record
    assert IBAN[4:] not in str(refused)
    assert NAME not in str(refused)


def test_the_wrong_document_element_is_refused() -> None:
    assert refusal(PAYMENTS_NAME, DOC_RECOVERY).code == "unexpected_root"  # a recovery file named as payments
    assert refusal(RECOVERY_NAME, DOC_PAYMENTS).code == "unexpected_root"


def test_bytes_the_declared_xml_encoding_cannot_read_are_a_bad_encoding() -> None:
    data = payments_file([payment("INVALIDE", "1", code="RJT", label="Clôturé")]).replace(
        "Clôturé".encode(), "Clôturé".encode("latin-1"))

    assert refusal(PAYMENTS_NAME, data).code == "bad_encoding"


@pytest.mark.parametrize("name", [PAYMENTS_NAME, INTEGRATIONS_NAME, REJECTS_NAME])
def test_an_empty_file_is_refused(name: str) -> None:
    assert refusal(name, b"").code == "empty_file"
    assert refusal(name, b"\n \n").code == "empty_file"


def test_a_csv_cut_inside_its_last_line_is_truncated() -> None:
    data = csv_file(INTEGRATIONS_HEADER, [DOC_INTEGRATION_LINE, "4243;1234891;;7654403;DOSS;9876611;51235;1"])

    refused = refusal(INTEGRATIONS_NAME, data[:-12])  # stops inside column 6, no final newline

    assert (refused.code, refused.line_no) == ("truncated", 3)


def test_a_csv_line_with_a_wrong_column_count_refuses_the_file_and_names_the_line_only() -> None:
    data = csv_file(INTEGRATIONS_HEADER, [DOC_INTEGRATION_LINE, f"4243;{NAME};{IBAN}", DOC_INTEGRATION_LINE])

    refused = refusal(INTEGRATIONS_NAME, data)

    assert (refused.code, refused.line_no) == ("wrong_column_count", 3)
    assert NAME not in str(refused)
    assert IBAN not in str(refused)


def test_a_reject_line_with_too_few_columns_is_a_wrong_column_count() -> None:
    refused = refusal(REJECTS_NAME, csv_file(REJECTS_HEADER, ["4242;;;Motif", "4243;;;Motif;"]))

    assert (refused.code, refused.line_no) == ("wrong_column_count", 2)


@pytest.mark.parametrize("header", ["", "Numero;idIndDoss", INTEGRATIONS_HEADER.lower(), DOC_INTEGRATION_LINE])
def test_a_csv_without_its_exact_header_is_refused(header: str) -> None:
    data = csv_file(header, [DOC_INTEGRATION_LINE]) if header else (DOC_INTEGRATION_LINE + "\n").encode()

    refused = refusal(INTEGRATIONS_NAME, data)

    assert (refused.code, refused.line_no) == ("missing_header", 1)


def test_the_rejects_header_read_as_the_wrong_encoding_is_missing() -> None:
    # a UTF-8 BOM promises UTF-8: a Windows-1252 header after it cannot be read
    data = b"\xef\xbb\xbf" + csv_file(REJECTS_HEADER, ["4242;;;Motif;"], encoding="latin-1")

    assert refusal(REJECTS_NAME, data).code == "bad_encoding"


@pytest.mark.parametrize("data", [
    csv_file(REJECTS_HEADER, ["4242;;;Motif \x81 inconnu;"], encoding="latin-1"),  # 0x81: undefined in cp1252
    csv_file(REJECTS_HEADER, ["4242;;;Motif;"], encoding="utf-16"),
    csv_file(REJECTS_HEADER, ["4242;;;Mo\x00tif;"]),
])
def test_bytes_that_are_not_windows_1252_text_are_a_bad_encoding(data: bytes) -> None:
    refused = refusal(REJECTS_NAME, data)

    assert refused.code == "bad_encoding"


def test_an_open_quote_running_to_the_end_of_a_csv_is_truncated() -> None:
    data = csv_file(REJECTS_HEADER, ["4242;;;Motif;", '4243;;;"Motif coupé'], encoding="latin-1")

    assert refusal(REJECTS_NAME, data.rstrip(b"\n")).code == "truncated"


def test_every_refusal_has_a_stable_code_and_is_a_value_error() -> None:
    refused = refusal(PAYMENTS_NAME, DOC_PAYMENTS[:100])

    assert isinstance(refused, ValueError)
    assert str(refused).startswith(f"{refused.code}: ")
