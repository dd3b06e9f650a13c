"""Which stored student each incoming INE is (imports.md §5.2): by INE, else by normalised identity."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_students.adapters import postgres
from aplypro_students.adapters.postgres_identity import candidates_for
from aplypro_students.domain.identity_match import decide
from aplypro_students.domain.model import Identity
from aplypro_students.domain.reconcile import merge_identity


@dataclass
class Matched:
    ids: dict[str, UUID] = field(default_factory=dict)  # incoming INE → student id
    new: list[tuple[UUID, Identity]] = field(default_factory=list)
    changed: list[tuple[UUID, Identity]] = field(default_factory=list)  # identity (or INE) corrected
    possible_duplicates: list[tuple[UUID, UUID]] = field(default_factory=list)  # (new student, look-alike)
    found_again: list[str] = field(default_factory=list)  # real INEs that replaced a `not_found` one


async def match_students(conn: Connection, sent: Mapping[str, Identity]) -> Matched:
    """Locks and reads the students concerned; writes nothing."""
    known = await postgres.students_by_ine(conn, sorted(sent))
    candidates = await candidates_for(conn, {i: identity for i, identity in sent.items() if i not in known})
    decisions = {ine: decide(found) for ine, found in candidates.items()}
    placeholders = {c.student_id: c for found in candidates.values() for c in found if c.is_placeholder}
    held = await postgres.students_by_ine(conn, sorted(c.ine for c in placeholders.values()))
    out, claimed = Matched(), set[UUID]()
    for ine, identity in sent.items():
        current: Identity | None = None
        if ine in known:
            out.ids[ine], current = known[ine]
            if current.ine != ine:  # a merged student's INE (§5.8): the survivor keeps its own INE
                if current.ine in sent:
                    continue  # its own INE in the same batch gives the identity
                identity = replace(identity, ine=current.ine)
        elif (taker := decisions.get(ine)) and taker.takes_over and taker.takes_over not in claimed:
            # the placeholder gives way to the real INE: same student id, so nothing downstream re-points
            claimed.add(taker.takes_over)
            placeholder = placeholders[taker.takes_over]
            out.ids[ine], current = held[placeholder.ine]
            if placeholder.ine_status == "not_found":
                out.found_again.append(ine)
        if current is None:
            out.ids[ine] = uuid.uuid4()
            out.new.append((out.ids[ine], identity))
            d = decisions.get(ine)  # a placeholder already taken by another INE of this batch: flagged too
            looks_like = () if d is None else d.looks_like or tuple(x for x in [d.takes_over] if x)
            out.possible_duplicates += [(out.ids[ine], other) for other in looks_like]
            continue
        merged = replace(merge_identity(current, identity), ine=identity.ine)
        if merged != current:
            out.changed.append((out.ids[ine], merged))
    return out
