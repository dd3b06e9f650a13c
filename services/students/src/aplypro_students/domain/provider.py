"""Students provider of an establishment (imports.md §1): where its students come from."""

from __future__ import annotations

import re

PROVIDERS = ("sygne", "fregata", "csv")  # plus `events:<producer>`, a Kafka producer's principal
_EVENTS = re.compile(r"events:[a-z0-9][a-z0-9._-]{0,62}")  # same shape as the 0004 CHECK


class InvalidProvider(ValueError):
    code = "provider.invalid"


def parse_provider(text: str) -> str:
    """`sygne`, `fregata`, `csv` or `events:<producer>` (lower case); anything else is refused."""
    value = text.strip().lower()
    if value in PROVIDERS or _EVENTS.fullmatch(value):
        return value
    raise InvalidProvider("a provider is sygne, fregata, csv or events:<producer>")
