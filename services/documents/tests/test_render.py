"""One document, one weasyprint call: content, formats, escaping and metadata of each kind."""

import io
from dataclasses import replace
from datetime import date

import pypdf
import pytest
from aplypro_documents.domain import Document, PostalAddress
from aplypro_documents.rendering import render_one, samples
from aplypro_documents.rendering.formatting import euros, long_date, one_line, short_date
from aplypro_documents.rendering.templates import html_for


def pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf), strict=True)
    text = " ".join(page.extract_text() for page in reader.pages)
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def test_a_decision_prints_student_rate_cap_number_and_version() -> None:
    decision = samples.attribution(7, version=3)
    text = pdf_text(render_one(decision))
    assert "DÉCISION D'ATTRIBUTION ANNUELLE" in text
    assert "DURAND-00007 Hugo" in text
    assert "Nombre de jours de PFMP réalisés × 20 €" in text
    assert "est de 600 €" in text
    assert f"{decision.number} (version 3)" in text
    assert decision.number.endswith("3")
    assert "né(e) le 08/08/2008" in text
    assert "Ministère de l'Éducation nationale et de la Jeunesse" in text
    assert "Vu le décret n° 2023-765 du 11 août 2023" in text
    assert "Article 10 – Mentions informatives" in text
    assert "Fait le 15/09/2025." in text


def test_an_abrogation_prints_the_long_birth_date_and_the_motives() -> None:
    abrogation = samples.abrogation(4)
    text = pdf_text(render_one(abrogation))
    assert "ABROGATION DE DÉCISION D'ATTRIBUTION ANNUELLE" in text
    assert "ROBERT-00004 Éloïse" in text
    assert f"n° {abrogation.decision_number}" in text
    assert "né(e) le 5 mai 2008" in text
    assert "changé de formation" in text
    assert "quitté l'établissement" in text
    assert "(version 1)" in text


def test_a_withdrawal_fits_one_page_and_names_the_withdrawn_decision() -> None:
    withdrawal = samples.withdrawal(2)
    pdf = render_one(withdrawal)
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1
    text = pdf_text(pdf)
    assert "RETRAIT DE LA DÉCISION D'ATTRIBUTION" in text
    assert "DUBOIS-00002 Océane" in text
    assert f"{withdrawal.decision_number} (version 3)" in text
    assert "du 15 septembre 2025" in text
    assert "à compter du 3 novembre 2025" in text


def test_a_liquidation_prints_one_page_per_section_with_the_rectificatif_last() -> None:
    liquidation = samples.liquidation(3)
    pdf = render_one(liquidation)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    first, second = (pdf_text_of(page) for page in reader.pages)
    assert "ETAT LIQUIDATIF" in first
    assert "RECTIFICATIF" not in first
    assert "300 €" in first
    assert "Fait le 02/11/2025" in first
    assert "ETAT LIQUIDATIF RECTIFICATIF" in second
    assert "260 €" in second
    assert "Fait le 12/01/2026" in second
    for text in (first, second):
        assert "THOMAS-00003 Gabriel" in text
        assert f"{liquidation.sections[0].pfmp_number} (v2)" in text
        assert "FR7630006000011234567890189" in text


def pdf_text_of(page: pypdf.PageObject) -> str:
    return " ".join(page.extract_text().replace("\u00a0", " ").split())


def test_names_are_escaped_in_html_and_printed_as_text() -> None:
    hostile = samples.attribution(1)
    hostile = replace(hostile, student=replace(hostile.student, last_name="<script>alert(1)</script>"))
    html = html_for(hostile)
    assert "<script>" not in html.lower()
    assert "&lt;SCRIPT&gt;ALERT(1)&lt;/SCRIPT&gt;" in html
    assert "<SCRIPT>ALERT(1)</SCRIPT>" in pdf_text(render_one(hostile))


@pytest.mark.parametrize(
    "doc",
    [samples.attribution(1), samples.abrogation(1), samples.withdrawal(1), samples.liquidation(1)],
    ids=["attribution", "abrogation", "withdrawal", "liquidation"],
)
def test_every_pdf_has_french_language_a_title_and_identical_bytes_on_rerender(doc: Document) -> None:
    pdf = render_one(doc)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert str(reader.root_object["/Lang"]) == "fr"
    assert reader.metadata is not None
    assert reader.metadata.title
    metadata = reader.root_object["/Metadata"].get_object()
    assert isinstance(metadata, pypdf.generic.StreamObject)
    assert "pdfaid" in metadata.get_data().decode()
    assert render_one(doc) == pdf  # a re-render after a crash is idempotent


def test_amounts_are_whole_euros_from_cents() -> None:
    assert euros(1500) == "15\u00a0€"
    assert euros(52500) == "525\u00a0€"
    assert euros(105000) == "1\u202f050\u00a0€"
    assert euros(1050) == "10,50\u00a0€"  # never rounded silently
    assert euros(0) == "0\u00a0€"


def test_dates_are_short_or_long_french_forms() -> None:
    assert short_date(date(2009, 2, 11)) == "11/02/2009"
    assert long_date(date(2009, 2, 11)) == "11 février 2009"
    assert long_date(date(2025, 8, 1)) == "1er août 2025"


def test_an_empty_address_reads_adresse_inconnue() -> None:
    assert one_line(PostalAddress()) == "adresse inconnue"
    assert one_line(PostalAddress("1 rue A", "", "75001", "Paris")) == "1 rue A, 75001, Paris"
