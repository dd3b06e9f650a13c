"""Matching an unknown INE on the student's identity (imports.md §5.2): merge into a placeholder, or flag.

The normalised identity itself is computed by the database (`students_identity_key`, migration 0005), so
stored students and incoming records are keyed by one function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

# A CNED-style temporary INE: 7 digits and a letter, given before the national one exists (§5.2).
_TEMPORARY_INE = re.compile(r"[0-9]{7}[A-Z]")


@dataclass(frozen=True)
class Candidate:
    """A stored student with the same normalised identity as an incoming unknown INE."""

    student_id: UUID
    ine: str
    ine_status: str  # `ok` or `not_found` (students.ine_status)

    @property
    def is_placeholder(self) -> bool:
        """An INE the national one may replace: SYGNE no longer knows it, or it is a temporary one."""
        return self.ine_status == "not_found" or _TEMPORARY_INE.fullmatch(self.ine) is not None


@dataclass(frozen=True)
class IdentityMatch:
    """`takes_over`: the placeholder student the unknown INE becomes (None: a new student);
    `looks_like`: students a person must compare with the new one (`possible_duplicate`)."""

    takes_over: UUID | None
    looks_like: tuple[UUID, ...] = ()


def decide(candidates: list[Candidate]) -> IdentityMatch:
    """None → new student. One, a placeholder → it takes the real INE. Otherwise a new student, flagged:
    two INEs of the national pattern are never merged automatically."""
    if len(candidates) == 1 and candidates[0].is_placeholder:
        return IdentityMatch(candidates[0].student_id)
    return IdentityMatch(None, tuple(sorted(c.student_id for c in candidates)))
