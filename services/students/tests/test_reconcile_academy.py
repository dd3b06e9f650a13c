"""The fallback school year of the importing establishment's academy (calculation.md §3.6): Mayotte starts on
23 August, La Réunion on 16 August, elsewhere on 1 September; two years never share a day."""

from __future__ import annotations

from datetime import date

import pytest
from aplypro_students.domain.reconcile import current_school_year, school_year_end


@pytest.mark.parametrize(("academy", "first"), [(None, date(2025, 9, 1)), ("14", date(2025, 9, 1)),
                                                 ("43", date(2025, 8, 23)), ("28", date(2025, 8, 16))])
def test_the_school_year_turns_on_the_academy_first_day(academy: str | None, first: date) -> None:
    assert current_school_year(first, academy) == 2025
    assert current_school_year(date.fromordinal(first.toordinal() - 1), academy) == 2024
    assert school_year_end(2024, academy) == date.fromordinal(first.toordinal() - 1)
