"""What a correction changed, named for the events that carry it (imports.md §5.2, §5.10): never the values."""

from __future__ import annotations

from typing import Literal

from aplypro_students.domain.model import Identity, Schooling

IDENTITY_FIELDS = ("ine", "last_name", "first_names", "birth_date", "sex")  # StudentIdentityChanged
ADDRESS_FIELDS = ("address", "birth_city_insee", "birth_country_insee")  # StudentAddressChanged
SCHOOLING_FIELDS = ("status", "start_date", "end_date")  # SchoolingChanged

SchoolingChange = Literal["opened", "closed", "reopened", "changed"]


def identity_changes(old: Identity, new: Identity) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The identity fields, then the address and birthplace fields, that differ."""
    return (tuple(f for f in IDENTITY_FIELDS if getattr(old, f) != getattr(new, f)),
            tuple(f for f in ADDRESS_FIELDS if getattr(old, f) != getattr(new, f)))


def schooling_change(before: Schooling | None, after: Schooling) -> tuple[SchoolingChange, tuple[str, ...]]:
    """Which event a written schooling is, and (for a plain change) the fields that changed.

    An end date set is a closing; one removed a reopening; a closing whose only change is that its date is no
    longer inferred (a source now gives the same date) is restated as a closing, which carries that flag."""
    if before is None:
        return "opened", ()
    if before.end_date is None and after.end_date is not None:
        return "closed", ()
    if before.end_date is not None and after.end_date is None:
        return "reopened", ()
    changed = tuple(f for f in SCHOOLING_FIELDS if getattr(before, f) != getattr(after, f))
    if not changed and after.end_date is not None:
        return "closed", ()
    return "changed", changed
