"""Whether a student's address changed, for the automatic retry of a rejected request (lifecycles.md §2).

The calculator keeps no address: only a fingerprint of the parts the ASP checks (asp-exchange.md §6.1: the
first two lines, the commune INSEE code and the country; the postal code too, since `inconsistent_address`
and `localisationgeographique_not_found` are cured by correcting it). The fingerprint is salted with the
student id, so equal addresses of two students never share one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from uuid import UUID

RETRY_LINES = 2  # lines beyond the second are not sent to the ASP as checked fields


def _norm(value: str | None) -> str:
    # Case and spacing changes are not corrections the ASP would see differently.
    return " ".join((value or "").split()).upper()


def address_fingerprint(student_id: UUID, lines: Sequence[str], postal_code: str | None, city_insee: str | None,
                        country_insee: str | None) -> str:
    parts = [str(student_id), [_norm(line) for line in lines[:RETRY_LINES]], _norm(postal_code),
             _norm(city_insee), _norm(country_insee)]
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()
