"""Language, title and tagging of the PDFs of both rendering paths (documents.md §9.6), read with pypdf."""

import io

import pypdf
import pytest
from aplypro_documents.domain import Document
from aplypro_documents.rendering import render_many, render_one, samples
from aplypro_documents.rendering.templates import title

DOCS: list[Document] = [samples.attribution(1), samples.abrogation(2), samples.withdrawal(3), samples.liquidation(4)]
KINDS = [str(doc.kind) for doc in DOCS]
TRUE = pypdf.generic.BooleanObject(True)


def dictionary(obj: pypdf.generic.PdfObject | None) -> pypdf.generic.DictionaryObject:
    """obj as a PDF dictionary: pypdf types every lookup as a bare PdfObject."""
    assert isinstance(obj, pypdf.generic.DictionaryObject)
    return obj


def array(obj: pypdf.generic.PdfObject | None) -> pypdf.generic.ArrayObject:
    """obj as a PDF array, for the same reason."""
    assert isinstance(obj, pypdf.generic.ArrayObject)
    return obj


def catalog_and_title(pdf: bytes) -> tuple[pypdf.generic.DictionaryObject, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf), strict=True)
    assert reader.metadata is not None
    return reader.root_object, str(reader.metadata.title)


def xmp(root: pypdf.generic.DictionaryObject) -> str:
    stream = root["/Metadata"].get_object()
    assert isinstance(stream, pypdf.generic.StreamObject)
    return stream.get_data().decode()


def says_french_and_its_title(pdf: bytes, doc: Document) -> pypdf.generic.DictionaryObject:
    root, info_title = catalog_and_title(pdf)
    assert str(root["/Lang"]) == "fr"
    assert info_title == title(doc)
    assert title(doc) in xmp(root)  # dc:title, what PDF/A readers take
    assert dictionary(root["/ViewerPreferences"])["/DisplayDocTitle"] == TRUE  # shown instead of the file name
    assert 'pdfaid:conformance="B"' in xmp(root)
    return root


@pytest.mark.parametrize("doc", DOCS, ids=KINDS)
def test_the_naive_path_writes_a_tagged_pdf_in_french_with_its_title(doc: Document) -> None:
    root = says_french_and_its_title(render_one(doc), doc)
    assert dictionary(root["/MarkInfo"])["/Marked"] == TRUE
    structure = dictionary(root["/StructTreeRoot"])
    document = dictionary(array(structure["/K"])[0].get_object())
    assert document["/S"] == pypdf.generic.NameObject("/Document")
    assert len(array(document["/K"])) >= 1  # one /Art per sheet, holding the headings, paragraphs and tables


def test_the_fast_path_writes_untagged_pdfs_in_french_each_with_its_own_title() -> None:
    for doc, pdf in zip(DOCS, render_many(DOCS), strict=True):
        root = says_french_and_its_title(pdf, doc)
        # Untagged by design (render_many's docstring): the batch structure tree cannot survive the cut.
        assert "/StructTreeRoot" not in root
        assert "/MarkInfo" not in root
