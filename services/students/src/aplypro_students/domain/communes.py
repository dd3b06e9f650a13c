"""Obsolete INSEE commune codes (imports.md §4): an exception table (type, old → new) applied at import."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum

from aplypro_students.domain.model import Identity

COMMUNE_CODE = re.compile(r"([0-9]{2}|2[AB])[0-9]{3}")  # 5 characters; Corsica's departments are 2A and 2B


class CommuneKind(StrEnum):
    BIRTH = "birth"  # birth_city_insee
    RESIDENCE = "residence"  # address.city_insee


@dataclass(frozen=True)
class CommuneExceptions:
    """(kind, old code) → new code; a code not in the table is kept as the source sent it."""

    table: dict[tuple[CommuneKind, str], str] = field(default_factory=dict)

    def remap(self, identity: Identity) -> Identity:
        """The identity with its obsolete birth and residence communes replaced (the same object if none is)."""
        birth = self.table.get((CommuneKind.BIRTH, identity.birth_city_insee or ""))
        residence = self.table.get((CommuneKind.RESIDENCE, identity.address.city_insee or ""))
        if birth is None and residence is None:
            return identity
        address = identity.address if residence is None else replace(identity.address, city_insee=residence)
        return replace(identity, birth_city_insee=birth or identity.birth_city_insee, address=address)
