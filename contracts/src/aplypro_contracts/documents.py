"""Events of the documents service: a document issued (number and content fixed), then its stored PDF, by
reference, never its bytes."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from .envelope import Envelope, Frozen
from .text import FreeText, Label

# The kind of a DocumentIssued or DocumentReady as a header: most readers use a decision's kinds only, and an
# état liquidatif (one a schooling, as many as the DAs) is skipped by them unparsed (aplypro_servicekit consumer).
DOCUMENT_KIND_HEADER = "document-kind"


class PfmpNumber(Frozen):
    """One PFMP's number as printed on an état liquidatif (documents.md §4): the PRESTADOSS/NUMADM to send."""

    pfmp_id: UUID
    number: Label


class DocumentReadyV1(Envelope):
    event_type: Literal["DocumentReady"] = "DocumentReady"
    schema_version: Literal[1] = 1
    document_id: UUID
    kind: Literal["attribution", "abrogation", "retrait", "liquidation"]
    schooling_id: UUID
    student_id: UUID
    number: Label = Field(description="Official number printed on the document.")
    version: int = Field(ge=1)
    storage_ref: FreeText = Field(description="Where the PDF is stored (file path or object key).")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=1)
    # Added within v1 (optional, empty by default: older messages and other kinds carry none). Filled for kind
    # `liquidation`: the asp-gateway sends exactly these numbers, never a number of its own (asp-exchange.md §4.3).
    pfmp_numbers: tuple[PfmpNumber, ...] = Field(
        default=(), description="Kind liquidation: the number printed for each PFMP of the état liquidatif.")

    def routing_headers(self) -> dict[str, str]:
        return {DOCUMENT_KIND_HEADER: self.kind}


class DocumentIssuedV1(Envelope):
    """A document is issued: its number, version and content are fixed for good; its PDF is rendered later
    and announced by DocumentReady (same document_id). No personal data: ids, numbers and a content hash."""

    event_type: Literal["DocumentIssued"] = "DocumentIssued"
    schema_version: Literal[1] = 1
    document_id: UUID
    kind: Literal["attribution", "abrogation", "retrait", "liquidation"]
    schooling_id: UUID
    student_id: UUID
    number: Label = Field(description="Official number printed on the document.")
    version: int = Field(ge=1)
    content_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description=(
        "sha256 of the frozen rendering input (canonical JSON): the content the PDF will print, whenever rendered."))
    pfmp_numbers: tuple[PfmpNumber, ...] = Field(
        default=(), description="Kind liquidation: the number printed for each PFMP of the état liquidatif.")

    def routing_headers(self) -> dict[str, str]:
        return {DOCUMENT_KIND_HEADER: self.kind}
