"""`aplypro-documents render-sample`: one fictitious document of each kind, no database."""

from pathlib import Path

import pypdf
import pytest
from aplypro_documents.domain import DocumentKind
from aplypro_documents.entrypoints.cli import app
from typer.testing import CliRunner

TITLES = {
    DocumentKind.ATTRIBUTION: "DÉCISION D'ATTRIBUTION ANNUELLE",
    DocumentKind.ABROGATION: "ABROGATION DE DÉCISION D'ATTRIBUTION ANNUELLE",
    DocumentKind.WITHDRAWAL: "RETRAIT DE LA DÉCISION D'ATTRIBUTION",
    DocumentKind.LIQUIDATION: "ETAT LIQUIDATIF",
}
# The samples' numbers for student 3 (rendering/samples.py): the DA, or the DA the document refers to.
NUMBERS = {
    DocumentKind.ATTRIBUTION: "ENPUBENCH0000320251 (version 1)",
    DocumentKind.ABROGATION: "ENPUBENCH0000320252",
    DocumentKind.WITHDRAWAL: "ENPUBENCH0000320253 (version 3)",
    DocumentKind.LIQUIDATION: "ENPUBENCH000032025101 (v2)",  # the PFMP number of the état liquidatif
}


@pytest.mark.parametrize("kind", list(DocumentKind))
def test_render_sample_writes_a_pdf_with_the_title_and_number_of_its_kind(kind: DocumentKind, tmp_path: Path) -> None:
    out = tmp_path / "sample" / f"{kind}.pdf"
    result = CliRunner().invoke(app, ["render-sample", "--kind", str(kind), "--index", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    reader = pypdf.PdfReader(out, strict=True)
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).replace("\u00a0", " ").split())
    assert TITLES[kind] in text
    assert NUMBERS[kind] in text
    assert "THOMAS-00003" in text  # the fictitious student 3
    assert reader.metadata is not None
    assert reader.metadata.title is not None
    assert reader.metadata.title in result.stdout


def test_render_sample_refuses_an_unknown_kind(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["render-sample", "--kind", "invoice", "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code == 2
    assert not (tmp_path / "x.pdf").exists()
