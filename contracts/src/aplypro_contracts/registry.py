"""Maps (event type, schema version) to its model; upcasts old versions; parses wire bytes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from pydantic import ValidationError

from .envelope import Envelope
from .errors import MalformedMessage, SchemaViolation, UnknownEventType, UnsupportedSchemaVersion

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class Registry:
    """Knows every version of every event type; handlers only ever see the latest model."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[Envelope]] = {}
        self._latest: dict[str, int] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, *models: type[Envelope]) -> None:
        for model in models:
            event_type = model.model_fields["event_type"].default
            version = model.model_fields["schema_version"].default
            self._models[(event_type, version)] = model
            self._latest[event_type] = max(version, self._latest.get(event_type, 0))

    def register_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """`upcaster` turns a body of `from_version` into a body of `from_version + 1`."""
        self._upcasters[(event_type, from_version)] = upcaster

    def models(self) -> Iterable[type[Envelope]]:
        return self._models.values()

    def knows(self, event_type: str) -> bool:
        """Whether `event_type` is registered (at any version)."""
        return event_type in self._latest

    def latest_version(self, event_type: str) -> int:
        return self._latest[event_type]

    def parse(self, raw: bytes | str, type_header: bytes | None = None,
              version_header: bytes | None = None) -> Envelope:
        """Decode wire bytes into the latest model of their type, or raise a ContractError.

        With the type and version headers of a latest-version event, the body is validated straight
        from JSON (pydantic's fast path); anything else goes through the generic, upcasting path.
        """
        if type_header is not None and version_header is not None:
            fast = self._fast_model(type_header, version_header)
            if fast is not None:
                try:
                    event = fast.model_validate_json(raw)
                except ValidationError:
                    pass  # the generic path gives the precise error (malformed, wrong type...)
                else:
                    return event
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedMessage(f"not JSON: {exc.msg if hasattr(exc, 'msg') else exc}") from None
        if not isinstance(body, dict):
            raise MalformedMessage("not a JSON object")
        return self.parse_obj(body)

    def _fast_model(self, type_header: bytes, version_header: bytes) -> type[Envelope] | None:
        try:
            event_type, version = type_header.decode(), int(version_header)
        except (UnicodeDecodeError, ValueError):
            return None
        if self._latest.get(event_type) != version:
            return None
        return self._models[(event_type, version)]

    def parse_obj(self, body: dict[str, Any]) -> Envelope:
        event_type, version = body.get("event_type"), body.get("schema_version")
        if not isinstance(event_type, str) or event_type not in self._latest:
            raise UnknownEventType(f"unknown event_type {event_type!r}")
        if not isinstance(version, int) or (event_type, version) not in self._models:
            raise UnsupportedSchemaVersion(f"{event_type} has no schema_version {version!r}")
        latest = self._latest[event_type]
        while version < latest:
            upcaster = self._upcasters.get((event_type, version))
            if upcaster is None:
                raise UnsupportedSchemaVersion(f"no upcaster for {event_type} v{version}")
            body = upcaster(body)
            version += 1
        try:
            return self._models[(event_type, latest)].model_validate(body)
        except ValidationError as exc:
            raise SchemaViolation(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    """Names the failing fields and rules, never the values (they may be personal data)."""
    parts = [f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['type']}" for err in exc.errors()]
    return "; ".join(parts[:5])


def to_wire(event: Envelope) -> tuple[bytes, dict[str, bytes]]:
    """Body and headers of an event (`event_headers`), the headers as bytes."""
    return wire_body(event), {k: v.encode() for k, v in event_headers(event).items()}


def event_headers(event: Envelope) -> dict[str, str]:
    """Type and version travel as headers too, for filters and DLTs, and so do the event's routing headers
    (Envelope.routing_headers). Most events have none: their type's shared dict, never to be modified."""
    headers = wire_headers(event.event_type, event.schema_version)
    if routing := event.routing_headers():
        headers = {**headers, **routing}
    return headers


def wire_body(event: Envelope) -> bytes:
    """The JSON body of an event, as bytes straight from pydantic's serializer."""
    return type(event).__pydantic_serializer__.to_json(event)


@cache
def wire_headers(event_type: str, schema_version: int) -> dict[str, str]:
    """The headers of every event of one type and version (shared: never modify the dict)."""
    return {"event-type": event_type, "schema-version": str(schema_version), "content-type": "application/json"}
