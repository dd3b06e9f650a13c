"""Exclusions of calculation.md §4."""

from __future__ import annotations

import pytest
from aplypro_calculator.domain.exclusions import ExclusionConflict, ExclusionRow, Exclusions

WHOLE, PAIRS, LIMITED, OTHER = "0750001A", "0750002B", "0750003C", "0750004D"
MEF, OTHER_MEF = "2473111533", "2473111532"


@pytest.fixture
def exclusions() -> Exclusions:
    return Exclusions([
        ExclusionRow.of(WHOLE),  # a whole establishment, all years
        ExclusionRow.of(PAIRS, MEF),  # one (UAI, MEF) pair, all years
        ExclusionRow.of(LIMITED, MEF, 2023),  # one pair limited to 2023-24
    ])


def test_a_whole_establishment_row_excludes_every_mef_every_year(exclusions: Exclusions) -> None:
    assert exclusions.excluded(WHOLE, MEF, 2023)
    assert exclusions.excluded(WHOLE, OTHER_MEF, 2025)
    assert exclusions.establishment_excluded(WHOLE, 2024)


def test_a_mef_row_excludes_only_that_mef_and_not_the_establishment(exclusions: Exclusions) -> None:
    assert exclusions.excluded(PAIRS, MEF, 2025)
    assert not exclusions.excluded(PAIRS, OTHER_MEF, 2025)
    assert not exclusions.establishment_excluded(PAIRS, 2025)


def test_a_row_with_a_year_applies_only_to_that_year(exclusions: Exclusions) -> None:
    assert exclusions.excluded(LIMITED, MEF, 2023)
    assert not exclusions.excluded(LIMITED, MEF, 2024)


def test_an_establishment_without_rows_is_not_excluded(exclusions: Exclusions) -> None:
    assert not exclusions.excluded(OTHER, MEF, 2025)
    assert not exclusions.establishment_excluded(OTHER, 2025)


def test_a_whole_establishment_row_limited_to_a_year() -> None:
    exclusions = Exclusions([ExclusionRow.of(OTHER, None, 2024)])
    assert exclusions.establishment_excluded(OTHER, 2024)
    assert not exclusions.establishment_excluded(OTHER, 2025)
    assert not exclusions.excluded(OTHER, MEF, 2025)


def test_uai_case_spaces_and_empty_mef_are_normalised() -> None:
    exclusions = Exclusions([ExclusionRow.of(" 0750001a ", "")])
    assert exclusions.rows == (ExclusionRow("0750001A", None, None),)
    assert exclusions.establishment_excluded("0750001a", 2025)
    assert exclusions.excluded("0750001A ", MEF, 2025)


@pytest.mark.parametrize("year", [None, 2023])
def test_a_mef_row_cannot_be_added_under_a_whole_establishment_row_of_any_year(year: int | None) -> None:
    exclusions = Exclusions([ExclusionRow.of(WHOLE, None, year)])
    with pytest.raises(ExclusionConflict) as caught:
        exclusions.add(ExclusionRow.of(WHOLE, MEF, 2025))
    assert caught.value.code == "establishment_already_excluded"


def test_adding_returns_a_new_list_and_leaves_the_old_one_unchanged(exclusions: Exclusions) -> None:
    more = exclusions.add(ExclusionRow.of(OTHER, MEF))
    assert more.excluded(OTHER, MEF, 2025)
    assert not exclusions.excluded(OTHER, MEF, 2025)
    assert len(more) == len(exclusions) + 1
    assert more.add(ExclusionRow.of(OTHER, MEF)) is more  # the same row twice changes nothing


def test_a_whole_establishment_row_can_follow_mef_rows(exclusions: Exclusions) -> None:
    widened = exclusions.add(ExclusionRow.of(PAIRS))
    assert widened.excluded(PAIRS, OTHER_MEF, 2025)


def test_todays_list_of_23_rows() -> None:
    # 3 whole establishments; 19 pairs over 5 establishments; 1 pair limited to 2023-24.
    rows = [ExclusionRow.of(f"075010{i}W") for i in range(3)]
    rows += [ExclusionRow.of(f"075020{i % 5}P", f"24731115{i:02d}") for i in range(19)]
    rows.append(ExclusionRow.of("0750300L", MEF, 2023))
    exclusions = Exclusions([])
    for row in rows:
        exclusions = exclusions.add(row)
    assert len(exclusions) == 23
    assert sum(exclusions.establishment_excluded(f"075010{i}W", 2025) for i in range(3)) == 3
    assert exclusions.excluded("0750200P", "2473111500", 2025)
    assert not exclusions.excluded("0750200P", "2473111501", 2025)
    assert not exclusions.excluded("0750300L", MEF, 2025)
