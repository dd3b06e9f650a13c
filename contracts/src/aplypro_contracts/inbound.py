"""Public inbound contract: schoolings pushed by other ministries' systems (imports.md §3.4, docs/producers.md).

Written by producers outside APLyPro, so everything the idempotency and ordering rely on is required
(no default event id, time or correlation id), and each producer writes its own topic. Changing a field
here changes what other teams publish: a breaking change is a new version with its upcaster.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints

from .envelope import Envelope, Frozen
from .registry import Registry
from .text import NO_CONTROL_CHARACTERS, Label

INBOUND_PREFIX = "aplypro.inbound.schoolings."
# A producer id names its topic and its Kafka principal: lower-case letters, digits and dashes.
PRODUCER_ID = r"^[a-z][a-z0-9-]{1,30}$"

Text = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_CONTROL_CHARACTERS)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS)]


def inbound_topic(producer: str) -> str:
    """The topic producer `producer` writes its schooling events to."""
    return f"{INBOUND_PREFIX}{producer}"


def rejections_topic(producer: str) -> str:
    """The topic producer `producer` reads its rejected events from."""
    return f"{inbound_topic(producer)}.rejected"


class InboundAddress(Frozen):
    lines: tuple[Label, ...] = Field(default=(), max_length=4, description="Street lines only (0 to 4).")
    postal_code: Label | None = Field(default=None, examples=["29900"])
    city_insee: Label | None = Field(default=None, description="INSEE code of the commune of residence.")
    city_name: Label | None = None
    country_insee: Label | None = Field(default=None, description="INSEE country code, 5 digits; France 99100.")


class InboundStudent(Frozen):
    """The learner's identity as the producer knows it: names, birth date and sex overwrite ours."""

    ine: Label = Field(description="National student id: 10 digits + 1 letter, or 9 digits + 2 letters, upper "
                       "case. Personal data: never a Kafka key or header.", examples=["000111225AD"])
    last_name: Name
    first_names: tuple[Name, ...] = Field(min_length=1, max_length=3)
    birth_date: date
    sex: Literal["female", "male", "unknown"] = "unknown"
    birth_city_insee: Label | None = Field(default=None, description="5 characters; omitted: ours is kept.")
    birth_country_insee: Label | None = Field(default=None, description="5 digits (99100); omitted: ours is kept.")
    address: InboundAddress | None = Field(default=None, description="Omitted: the address we hold is kept.")


class InboundSchooling(Frozen):
    """One schooling: a learner in a class of one establishment for one school year."""

    establishment_uai: str = Field(pattern=r"^[0-9]{7}[A-Z]$", examples=["0999003M"])
    school_year: int = Field(ge=2023, le=2100, description="Start year: 2025 means 2025-2026.")
    class_label: Text = Field(examples=["2NDE CGEM"])
    mef_code: str = Field(pattern=r"^[0-9]{10}$", description="10 digits, without the check character.")
    status: Literal["student", "apprentice", "other"] = Field(description="student (scolaire) is the only "
                                                              "payable one.")
    start_date: date
    end_date: date | None = Field(default=None, description="null while enrolled.")


class _InboundEvent(Envelope):
    """What every inbound event carries: the producer's idempotency key and the record it is about."""

    event_id: UUID = Field(description="The producer's unique id of this event: the idempotency key.")
    occurred_at: AwareDatetime = Field(description="RFC 3339 with an offset.")
    producer: str = Field(pattern=PRODUCER_ID, description="The producer id; must own the topic.")
    correlation_id: UUID = Field(description="Id shared by the producer's events of one flow.")
    source_record_id: Text = Field(description="The producer's stable id of this schooling.")
    source_version: int = Field(ge=0, description="Grows with each change of that record; an event not newer "
                                "than the last one applied is skipped.")


class SchoolingReportedV1(_InboundEvent):
    """The full current state of one schooling (an upsert); the latest source_version of a record wins."""

    event_type: Literal["SchoolingReported"] = "SchoolingReported"
    schema_version: Literal[1] = 1
    student: InboundStudent
    schooling: InboundSchooling


class SchoolingRetractedV1(_InboundEvent):
    """A schooling the producer reported by mistake (imports.md §3.4): `source_record_id` names it, and
    `source_version` must be newer than the last version applied. Accepted while the schooling has neither a
    décision d'attribution nor a payment request; otherwise rejected (`retract_refused`: a human decides)."""

    event_type: Literal["SchoolingRetracted"] = "SchoolingRetracted"
    schema_version: Literal[1] = 1


INBOUND_MODELS: tuple[type[Envelope], ...] = (SchoolingReportedV1, SchoolingRetractedV1)
SchoolingReported = SchoolingReportedV1
SchoolingRetracted = SchoolingRetractedV1


def inbound_registry() -> Registry:
    """Only the inbound contracts: any other event type on an inbound topic is `unknown_event_type`."""
    registry = Registry()
    registry.register(*INBOUND_MODELS)
    return registry
