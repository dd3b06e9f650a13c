"""Merging two stored students found to be one person (imports.md §5.8): which schoolings move, which refuse.

The survivor is the one with an open schooling; the students service knows no payments, so when neither has
one, the operator's order (survivor first) decides. Two open schoolings in different classes are one person
in two places: the source must close one first. A schooling of the merged student in a class where the
survivor has one too is folded: moved hidden, as a duplicate, since (student, class) is one schooling.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from aplypro_students.domain.model import Schooling


class MergeRefused(ValueError):
    """A merge that cannot be made; `code` is stable, the message names no personal data."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class MergeSide:
    student_id: UUID
    is_placeholder: bool  # its INE may give way to a national one (not_found, or temporary)
    merged_into: UUID | None
    schoolings: tuple[Schooling, ...]


@dataclass(frozen=True)
class SchoolingMoves:
    moved: tuple[UUID, ...]  # to the survivor as they are
    folded: tuple[tuple[UUID, UUID], ...]  # (merged student's schooling, the survivor's one of the same class)


def check_pair(survivor: MergeSide, merged: MergeSide, *, same_person: bool) -> None:
    if survivor.student_id == merged.student_id:
        raise MergeRefused("merge.same_student", "the survivor and the merged student are one student")
    for side, name in ((survivor, "survivor"), (merged, "merged student")):
        if side.merged_into is not None:
            raise MergeRefused("merge.already_merged", f"the {name} {side.student_id} is already merged into "
                                                       f"{side.merged_into}")
    if not same_person:
        raise MergeRefused("merge.not_same_person", "the two students differ in normalised last name, first name, "
                                                    "birth date or birth city")


def plan_schoolings(survivor: MergeSide, merged: MergeSide) -> SchoolingMoves:
    open_survivor = [s for s in survivor.schoolings if s.is_open]
    open_merged = [s for s in merged.schoolings if s.is_open]
    if open_merged and not open_survivor:
        raise MergeRefused("merge.survivor_has_no_open_schooling",
                           "only the merged student has an open schooling: it must survive (swap the two ids)")
    by_class = {s.class_id: s.schooling_id for s in survivor.schoolings}
    moved, folded = [], []
    for s in merged.schoolings:
        if s.class_id in by_class:
            folded.append((s.schooling_id, by_class[s.class_id]))
        elif s.is_open:
            raise MergeRefused("merge.two_open_schoolings",
                               "both students have an open schooling in different classes: the source must close "
                               "one first")
        else:
            moved.append(s.schooling_id)
    return SchoolingMoves(tuple(moved), tuple(folded))


def takes_ine(survivor: MergeSide, merged: MergeSide) -> bool:
    """A placeholder INE gives way to the real one: the survivor takes the merged student's national INE."""
    return survivor.is_placeholder and not merged.is_placeholder
