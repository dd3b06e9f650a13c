"""The état liquidatif on the fast path: each section page stamped over a layout shared by its group."""

import io
from dataclasses import replace
from typing import Any

import pypdf
from aplypro_documents.domain import Document, LiquidationStatement, PostalAddress
from aplypro_documents.rendering import render_many, render_one, samples
from aplypro_documents.rendering.stamping import static_html

Run = tuple[int, float, float, str]


def placed_text(pdf: bytes) -> list[Run]:
    """Every text run with its page and where it is drawn on the page (text matrix times CTM)."""
    runs: list[Run] = []
    for number, page in enumerate(pypdf.PdfReader(io.BytesIO(pdf), strict=True).pages):

        def visit(text: str, cm: Any, tm: Any, _font: Any, _size: Any, number: int = number) -> None:
            if text.strip():
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                runs.append((number, round(x, 1), round(y, 1), text.strip()))

        page.extract_text(visitor_text=visit)
    return sorted(runs)


def content_streams(pdf: bytes) -> list[int]:
    """How many content streams each page draws: a stamped page stacks its static layer and its stamp."""
    counts = []
    for page in pypdf.PdfReader(io.BytesIO(pdf), strict=True).pages:
        contents = page["/Contents"]
        counts.append(len(contents) if isinstance(contents, pypdf.generic.ArrayObject) else 1)
    return counts


def statement(index: int, **changes: Any) -> LiquidationStatement:
    return replace(samples.liquidation(index), **changes)


def test_a_stamped_liquidation_prints_each_word_where_the_full_layout_does() -> None:
    # Two sections each (the PFMP as paid, then its rectificatif): two static layers, one per kind of page.
    docs: list[Document] = [statement(1), statement(2), samples.attribution(3), statement(4, version=7)]
    for doc, fast in zip(docs, render_many(docs), strict=True):
        if isinstance(doc, LiquidationStatement):
            assert content_streams(fast) == [2, 2]  # stamped, not laid out in full
            assert placed_text(fast) == placed_text(render_one(doc))


def test_a_section_page_that_overflows_its_slot_is_laid_out_in_full() -> None:
    long_address = PostalAddress("Résidence des Très Longs Noms de Bâtiments, escalier B, 4e étage, porte 12",
                                 "Lieu-dit de la Grande Fontaine aux Mille Sources Claires", "97400",
                                 "Saint-Denis-de-la-Réunion-sur-la-Côte")  # fmt: skip
    crowded = statement(6, student=replace(samples.liquidation(6).student, address=long_address))
    neighbour, fast = render_many([statement(5), crowded])
    assert fast == render_one(crowded)  # the naive path's bytes (tagged), the whole address printed
    assert "Claires" in " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(fast)).pages)
    assert content_streams(neighbour) == [2, 2]  # the others in the chunk are still stamped


def test_the_static_layer_of_a_section_page_carries_no_per_student_value() -> None:
    first, second = statement(1), statement(2, version=3)
    for mine, theirs in zip(first.sections, second.sections, strict=True):
        html = static_html(first, mine)
        assert html == static_html(second, theirs)  # one layout for the whole group
        for value in (first.student.last_name, first.bank_account.iban, first.bank_account.holder, mine.pfmp_number,
                      first.administrative_number, "300 €", "02/11/2025"):  # fmt: skip
            assert value not in html
    original, rectificatif = first.sections
    assert static_html(first, original) != static_html(first, rectificatif)  # the title and sentence differ
