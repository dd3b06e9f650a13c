"""The PFMP life-cycle rules without a database (lifecycles.md §1): the latest request decides."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from aplypro_pfmp.domain.guards import EditPath, check_deletable, edit_path
from aplypro_pfmp.domain.pfmp import Pfmp, PfmpError, Status


def pfmp(day_count: int | None = 10) -> Pfmp:
    return Pfmp.record(pfmp_id=uuid.uuid4(), schooling_id=uuid.uuid4(), student_id=uuid.uuid4(), school_year=2025,
                       start=date(2025, 11, 3), end=date(2025, 11, 21), day_count=day_count, rank=1)


@pytest.mark.parametrize(("latest", "path"), [
    (None, EditPath.PLAIN), ("pending", EditPath.PLAIN), ("incomplete", EditPath.PLAIN),
    ("rejected", EditPath.PLAIN), ("unpaid", EditPath.PLAIN), ("paid", EditPath.RECTIFICATION),
])
def test_the_latest_request_decides_how_a_validated_pfmp_is_edited(latest: str | None, path: EditPath) -> None:
    assert edit_path(Status.VALIDATED, latest) is path


@pytest.mark.parametrize("latest", ["ready", "sent", "integrated"])
def test_nothing_is_edited_or_deleted_while_the_asp_holds_the_request(latest: str) -> None:
    for action in (lambda: edit_path(Status.VALIDATED, latest), lambda: check_deletable(latest, known_to_asp=False)):
        with pytest.raises(PfmpError) as refused:
            action()
        assert refused.value.code == "pfmp_payment_ongoing"


def test_a_rectified_pfmp_is_edited_through_a_rectification_again() -> None:
    assert edit_path(Status.RECTIFIED, "pending") is EditPath.RECTIFICATION


@pytest.mark.parametrize(("latest", "known"), [("paid", False), ("unpaid", False), ("rejected", True), (None, True)])
def test_what_the_asp_knows_is_never_deleted(latest: str | None, known: bool) -> None:
    with pytest.raises(PfmpError) as refused:
        check_deletable(latest, known)
    assert refused.value.code == "pfmp_known_to_asp"


def test_an_edit_keeps_pending_and_completed_in_step_with_the_day_count() -> None:
    pending = pfmp(None)
    completed = pending.edit(start=pending.start_date, end=pending.end_date, day_count=5, school_year=2025)
    assert (completed.status, completed.version) == (Status.COMPLETED, 2)
    back = completed.edit(start=completed.start_date, end=completed.end_date, day_count=None, school_year=2025)
    assert back.status is Status.PENDING
    with pytest.raises(PfmpError) as refused:
        completed.edit(start=date(2025, 11, 3), end=date(2026, 9, 2), day_count=5, school_year=2025)
    assert refused.value.code == "outside_school_year"


def test_a_rectification_allows_zero_days_and_needs_a_validated_pfmp() -> None:
    validated = pfmp().validate(date(2026, 1, 5))
    rectified = validated.rectify(start=validated.start_date, end=validated.end_date, day_count=0, school_year=2025)
    assert (rectified.status, rectified.day_count, rectified.version) == (Status.RECTIFIED, 0, 3)
    with pytest.raises(PfmpError) as refused:
        pfmp().rectify(start=date(2025, 11, 3), end=date(2025, 11, 21), day_count=0, school_year=2025)
    assert refused.value.code == "not_validated"
