"""Documents as plain JSON-compatible dicts, to cross a process boundary or be hashed.

`{"kind": "attribution", "content": {...}}`; the content is validated back into the dataclass.
"""

from functools import cache
from typing import Any

from pydantic import TypeAdapter

from aplypro_documents.domain.model import (
    Abrogation,
    AttributionDecision,
    Document,
    DocumentKind,
    LiquidationStatement,
    Withdrawal,
)

DOCUMENT_TYPES: dict[DocumentKind, type[Document]] = {
    DocumentKind.ATTRIBUTION: AttributionDecision,
    DocumentKind.ABROGATION: Abrogation,
    DocumentKind.WITHDRAWAL: Withdrawal,
    DocumentKind.LIQUIDATION: LiquidationStatement,
}


@cache
def _adapter(kind: DocumentKind) -> TypeAdapter[Any]:
    return TypeAdapter(DOCUMENT_TYPES[kind])


def to_payload(doc: Document) -> dict[str, Any]:
    content = _adapter(doc.kind).dump_python(doc, mode="json")
    return {"kind": str(doc.kind), "content": content}


def from_payload(payload: dict[str, Any]) -> Document:
    kind = DocumentKind(payload["kind"])
    doc: Document = _adapter(kind).validate_python(payload["content"])
    return doc
