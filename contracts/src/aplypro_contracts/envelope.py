"""The envelope every APLyPro event carries, and the shared value types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .ids import new_uuid
from .text import Label

Cents = Annotated[int, Field(ge=0, description="An amount of money in euro cents (never a float).")]


class Envelope(BaseModel):
    """Identity, type, version and causality of one event; subclasses add the body fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")  # consumers ignore fields they do not know

    event_id: UUID = Field(default_factory=new_uuid, description="Unique id; the idempotency key.")
    event_type: str = Field(description="Past-tense name of what happened.")
    schema_version: int = Field(ge=1, description="Version of this event type's body.")
    occurred_at: AwareDatetime = Field(
        default_factory=lambda: datetime.now(UTC), description="When it happened, with its timezone."
    )
    producer: Label = Field(description="Service (or external system) that produced the event.")
    correlation_id: UUID = Field(
        default_factory=new_uuid, description="Id shared by every event of one business flow."
    )
    causation_id: UUID | None = Field(default=None, description="event_id of the event that caused this.")

    def routing_headers(self) -> dict[str, str]:
        """Headers, beyond type and version, that let a consumer skip the event unparsed (never personal data).
        None by default; an event whose readers each use only some of its kinds names its kind."""
        return {}


class Frozen(BaseModel):
    """Base of the nested value objects carried inside events."""

    model_config = ConfigDict(frozen=True, extra="ignore")
