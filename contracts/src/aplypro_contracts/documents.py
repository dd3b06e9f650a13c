"""Events of the documents service: a reference to a stored document, never its bytes."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from .envelope import Envelope
from .text import FreeText, Label


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
