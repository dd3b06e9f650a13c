"""Operator command: set the students provider of establishments, with an audit record (imports.md §1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aplypro_servicekit.db import Connection

from aplypro_students.adapters.postgres_providers import set_provider
from aplypro_students.domain.provider import parse_provider

log = structlog.get_logger(__name__)


class UnknownEstablishment(LookupError):
    code = "uai.unknown"


@dataclass(frozen=True)
class ProviderChange:
    provider: str
    changed: list[str]
    unchanged: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "changed": self.changed, "unchanged": self.unchanged}


async def change_provider(conn: Connection, uais: Sequence[str], provider: str, *, by: str) -> ProviderChange:
    """In the caller's transaction; an unknown UAI changes nothing (the whole command is refused)."""
    value = parse_provider(provider)
    if not by.strip():
        raise ValueError("who changes the provider is required (audit trail)")
    changed, unchanged = await set_provider(conn, sorted(set(uais)), value, by.strip())
    if missing := sorted(set(uais) - set(changed) - set(unchanged)):
        raise UnknownEstablishment(f"{len(missing)} establishment(s) not in the reference data: {', '.join(missing)}")
    log.info("students_provider_set", provider=value, by=by, changed=len(changed), unchanged=len(unchanged))
    return ProviderChange(value, changed, unchanged)
