"""Turn documents into HTML: templates compiled once per process, autoescaped."""

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from aplypro_documents.domain.model import (
    Abrogation,
    AttributionDecision,
    Document,
    DocumentKind,
    LiquidationSection,
    LiquidationStatement,
    Withdrawal,
)
from aplypro_documents.rendering.formatting import FILTERS

HERE = Path(__file__).parent
# Fonts and the stylesheet are resolved against the package folder, never the working directory.
BASE_URL = HERE.as_uri() + "/"
TEMPLATE_NAMES = {
    DocumentKind.ATTRIBUTION: "attribution.html",
    DocumentKind.ABROGATION: "abrogation.html",
    DocumentKind.WITHDRAWAL: "withdrawal.html",
    DocumentKind.LIQUIDATION: "liquidation.html",
}


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,  # names and addresses come from outside: never trust them as HTML
        undefined=StrictUndefined,  # a missing field is a bug, not an empty string on a legal document
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the package; skip the mtime check per render
    )
    env.filters.update(FILTERS)
    return env


def anchor(index: int) -> str:
    """Id on each document's first element; the batch renderer finds page boundaries with it."""
    return f"doc-{index}"


def fragment(doc: Document, anchor_id: str, layer: str = "full", section: LiquidationSection | None = None) -> Markup:
    """One document's sheets; layer "static" leaves the per-student slots empty (stamping.py) and, for an
    état liquidatif, prints only `section`'s page."""
    template = environment().get_template(TEMPLATE_NAMES[doc.kind])
    sections = (section,) if section is not None else getattr(doc, "sections", ())
    return Markup(template.render(doc=doc, anchor=anchor_id, layer=layer, sections=sections))  # noqa: S704 - autoescaped


def stamp_sheet(
    stamps: Sequence[tuple[Document, LiquidationSection | None, str, Mapping[str, Any]]], sheet_anchor: str
) -> Markup:
    """Stamped pages' per-student lines, each absolutely placed over a slot of its static layer, one page:
    (document, its section for an état liquidatif, the page's anchor, its slots)."""
    template = environment().get_template("stamp.html")
    return Markup(template.render(stamps=stamps, sheet_anchor=sheet_anchor))  # noqa: S704 - autoescaped


def title(doc: Document) -> str:
    match doc:
        case AttributionDecision():
            return f"Décision d'attribution annuelle n° {doc.number}"
        case Abrogation():
            return f"Abrogation de la décision d'attribution n° {doc.decision_number} (v{doc.version})"
        case Withdrawal():
            return f"Retrait de la décision d'attribution n° {doc.decision_number}"
        case LiquidationStatement():
            return f"État liquidatif de la décision n° {doc.decision_number} (v{doc.version})"


def issued_on(doc: Document) -> date:
    if isinstance(doc, LiquidationStatement):
        return max(section.dated_on for section in doc.sections)
    return doc.issued_on


def version_key(doc: Document) -> str:
    """Kind, number and version: unique per issued document version."""
    match doc:
        case AttributionDecision():
            return f"{doc.kind}:{doc.number}:{doc.version}"
        case Abrogation() | LiquidationStatement():
            return f"{doc.kind}:{doc.decision_number}:{doc.version}"
        case Withdrawal():
            return f"{doc.kind}:{doc.decision_number}:1"


def pdf_identifier(doc: Document) -> bytes:
    """Fixed PDF /ID so that two renders of one version are byte-identical (documents.md §9)."""
    return hashlib.sha256(version_key(doc).encode()).hexdigest()[:32].encode()


def page(body: Markup, page_title: str, created: date | None) -> str:
    template = environment().get_template("page.html")
    return template.render(body=body, title=page_title, created=created.isoformat() if created else None)


def html_for(doc: Document) -> str:
    return page(fragment(doc, anchor(0)), title(doc), issued_on(doc))


def batch_page(fragments: Sequence[Markup]) -> str:
    """Many documents in one HTML page; each starts on a new sheet. Metadata is set per PDF later."""
    return page(Markup("\n").join(fragments), "Lot de documents", None)
