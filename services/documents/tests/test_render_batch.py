"""The fast path: one valid PDF per input, in order, each with only its own student."""

import io
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pypdf
import pytest
from aplypro_documents.domain import AttributionDecision, Document, PostalAddress
from aplypro_documents.rendering import (
    from_payload,
    render_batch,
    render_many,
    render_one,
    samples,
    to_payload,
)
from aplypro_documents.rendering.formatting import full_name
from aplypro_documents.rendering.pool import chunks
from aplypro_documents.rendering.stamping import split_layers, static_html


def words(pdf: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf), strict=True)
    text = " ".join(page.extract_text() for page in reader.pages)
    return sorted(text.replace("\u00a0", " ").split())


def text(pdf: bytes) -> str:
    return " ".join(words(pdf))


def mixed_batch() -> list[Document]:
    return [
        samples.attribution(1),
        samples.abrogation(2),
        samples.attribution(3),
        samples.liquidation(4),
        samples.attribution(5, school=samples.establishment(9), training=samples.TRAININGS[1]),
        samples.withdrawal(6),
        samples.attribution(7),
    ]


def test_the_batch_path_returns_one_pdf_per_document_in_order_with_only_its_student() -> None:
    docs = mixed_batch()
    pdfs = render_many(docs, chunk_size=4)  # two chunks: order must survive chunking too
    assert len(pdfs) == len(docs)
    names = [" ".join(words_of(full_name(doc.student))) for doc in docs]
    for index, (doc, pdf) in enumerate(zip(docs, pdfs, strict=True)):
        assert pdf.startswith(b"%PDF-")
        assert pdf.rstrip().endswith(b"%%EOF")
        content = " ".join(sorted(text(pdf).split()))
        assert all(word in content.split() for word in words_of(full_name(doc.student)))
        others = {name for other, name in enumerate(names) if other != index}
        for name in others:
            assert full_name_absent(name, pdf), f"document {index} shows another student"


def words_of(value: str) -> list[str]:
    return value.split()


def full_name_absent(name: str, pdf: bytes) -> bool:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    raw = " ".join(page.extract_text() for page in reader.pages)
    return name.split()[0] not in raw  # last names carry the sample's unique index


def test_a_stamped_decision_says_exactly_what_the_naive_one_says() -> None:
    decision = samples.attribution(11, version=2)
    fast, naive = render_many([decision, samples.attribution(12)])[0], render_one(decision)
    assert words(fast) == words(naive)
    assert len(pypdf.PdfReader(io.BytesIO(fast)).pages) == len(pypdf.PdfReader(io.BytesIO(naive)).pages)


def test_every_kind_reads_the_same_through_both_paths() -> None:
    docs = mixed_batch()
    for fast, doc in zip(render_many(docs), docs, strict=True):
        assert words(fast) == words(render_one(doc))


def test_batch_output_is_byte_identical_on_rerender() -> None:
    docs = mixed_batch()
    assert render_many(docs) == render_many(docs)


def test_a_student_whose_lines_overflow_the_slot_is_laid_out_in_full() -> None:
    long_address = PostalAddress("Résidence des Très Longs Noms de Bâtiments, escalier B, 4e étage, porte 12",
                                 "Lieu-dit de la Grande Fontaine aux Mille Sources Claires", "97400",
                                 "Saint-Denis-de-la-Réunion-sur-la-Côte")  # fmt: skip
    decision = samples.attribution(21)
    crowded = replace(decision, student=replace(decision.student, address=long_address))
    fast = render_many([samples.attribution(20), crowded])[1]
    content = text(fast)
    for word in ("Lieu-dit", "Claires", "97400,"):
        assert word in content
    assert words(fast) == words(render_one(crowded))


def test_the_shared_layer_of_a_class_carries_no_student_data() -> None:
    first, second = samples.attribution(1), samples.attribution(2)
    assert static_html(first) == static_html(second)
    assert first.student.last_name not in static_html(first)


@pytest.mark.parametrize("doc", mixed_batch(), ids=lambda doc: type(doc).__name__)
def test_payloads_are_json_and_round_trip(doc: Document) -> None:
    payload = to_payload(doc)
    assert from_payload(json.loads(json.dumps(payload))) == doc


def test_render_batch_runs_in_a_spawned_process_pool() -> None:
    docs: list[AttributionDecision] = [samples.attribution(index) for index in range(3)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        pdfs = pool.submit(render_batch, [to_payload(doc) for doc in docs]).result(timeout=120)
    assert [full_name(doc.student).split()[0] in text(pdf) for doc, pdf in zip(docs, pdfs, strict=True)] == [
        True
    ] * 3


def test_a_stamp_page_is_cut_into_one_layer_per_student() -> None:
    # Two wrapping groups, then two students with two boxes each, as weasyprint paints them.
    items = [b"cm", b"q", b"scale", b"q", b"q", b"a1", b"Q", b"q", b"a2", b"Q",
             b"q", b"b1", b"Q", b"q", b"b2", b"Q", b"Q", b"Q"]  # fmt: skip
    layers = split_layers(items, [2, 2])
    assert layers == [b"cm\nq\nscale\nq\nq\na1\nQ\nq\na2\nQ\nQ\nQ", b"cm\nq\nscale\nq\nq\nb1\nQ\nq\nb2\nQ\nQ\nQ"]
    assert split_layers(items, [2, 2, 2]) is None  # an unexpected shape is refused, never guessed


def test_chunks_keep_order_and_cut_between_classes() -> None:
    docs = samples.class_decisions(100)  # classes of 28
    cut = chunks(docs, 64)
    assert [doc for chunk in cut for doc in chunk] == docs
    assert [len(chunk) for chunk in cut] == [56, 44]
    assert all(len(chunk) <= 10 for chunk in chunks(docs, 10))


def test_fast_pdfs_carry_language_title_and_pdfa_identification() -> None:
    decision = samples.attribution(30)
    reader = pypdf.PdfReader(io.BytesIO(render_many([decision])[0]), strict=True)
    assert str(reader.root_object["/Lang"]) == "fr"
    assert reader.metadata is not None
    assert reader.metadata.title == f"Décision d'attribution annuelle n° {decision.number}"
    assert "/OutputIntents" in reader.root_object
    metadata = reader.root_object["/Metadata"].get_object()
    assert isinstance(metadata, pypdf.generic.StreamObject)
    assert "pdfaid:part" in metadata.get_data().decode()
