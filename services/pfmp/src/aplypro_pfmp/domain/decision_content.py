"""What a décision d'attribution prints (documents.md §5.1, documents' content.attribution_from), as fingerprints
pfmp compares to tell a stale DA (documents.md §6): the student (names, birth date, address), the training (MEF
code, label, ministry) and the establishment (name, address, e-mail, phone). The barème is compared as values.
Class, schooling dates and report are not printed on a DA: changing them does not make it stale.

A fingerprint is a sha256 of those fields, never the data (pfmp keeps no birth date nor address). Pure."""

from __future__ import annotations

import hashlib
import json

from aplypro_contracts import SchoolingState
from aplypro_contracts.students import Identity


def _sha(fields: list[object]) -> str:
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, default=str).encode()).hexdigest()


def identity_fingerprint(identity: Identity) -> str:
    address = identity.address
    return _sha([identity.last_name, list(identity.first_names), identity.birth_date.isoformat(),
                 list(address.lines[:2]), address.postal_code, address.city_name])


def schooling_fingerprint(event: SchoolingState) -> str:
    mef, school = event.mef, event.establishment
    return _sha([mef.code, mef.label, mef.ministry, school.name, list(school.address_lines[:2]), school.postal_code,
                 school.city_name, school.email, school.phone])
