"""The academic calendar (imports.md §6.3): the open-data export read as each academy's summers, and the
school-year ranges they give (contiguous, each bound falling back on its own), as the inbound date check
uses them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aplypro_students.adapters.csv_calendar import SAMPLE, read_calendar_csv
from aplypro_students.domain.calendar import AcademyCalendar, Summer
from aplypro_students.domain.inbound import ImpossibleDates, check_dates
from aplypro_students.domain.report import InvalidFile

from .test_inbound_rules import reported

LABELS = "Description;Population;Date de début;Date de fin;Académies;Zones;annee_scolaire"
FIELDS = "description;population;start_date;end_date;location;zones;annee_scolaire"


def test_the_shipped_sample_gives_each_academy_its_summers() -> None:
    summers = read_calendar_csv(SAMPLE)
    # Rennes; Normandie for Caen, Rouen and Normandie; Mayotte; La Réunion (austral winter). Teachers' rows,
    # other holidays and zones are left out.
    assert sorted({code for code, _ in summers}) == ["05", "14", "21", "28", "43", "70"]
    # The export's date-times are Paris midnights: 2025-08-31T22:00Z is 1 September.
    assert summers["14", 2024] == Summer(date(2025, 7, 5), date(2025, 9, 1))
    assert summers["28", 2025] == Summer(date(2026, 7, 4), date(2026, 8, 17))
    assert summers["70", 2025] == summers["21", 2025] == summers["05", 2025]


def test_the_export_with_field_names_and_plain_dates_reads_the_same(write_csv: Any) -> None:
    path = write_csv(FIELDS, "Vacances d'Été;Élèves;2025-07-05;2025-09-01;RENNES;Zone B;2024-2025")
    assert read_calendar_csv(path) == {("14", 2024): Summer(date(2025, 7, 5), date(2025, 9, 1))}


@pytest.mark.parametrize(("row", "code"), [
    ("Vacances d'Été;-;2025-09-01;2025-07-05;Rennes;Zone B;2024-2025", "end.before_start"),
    ("Vacances d'Été;-;2025-07-05;le 1er septembre;Rennes;Zone B;2024-2025", "end.format"),
    ("Vacances d'Été;-;2025-07-05;2025-09-01;Rennes;Zone B;2025-2026", "end.year"),
    ("Vacances d'Été;-;2025-07-05;2025-09-01;Rennes;Zone B;", "annee_scolaire.missing"),
])
def test_a_wrong_row_refuses_the_file_with_its_line(write_csv: Any, row: str, code: str) -> None:
    path = write_csv(LABELS, "Vacances d'Été;-;2025-07-05;2025-09-01;Mayotte;Mayotte;2024-2025", row)
    with pytest.raises(InvalidFile) as refused:
        read_calendar_csv(path)
    assert [(e.line, e.code) for e in refused.value.errors] == [(3, code)]


def test_two_rows_of_one_academy_and_year_must_agree_and_the_header_must_be_there(write_csv: Any) -> None:
    conflict = write_csv(LABELS, "Vacances d'Été;-;2025-07-05;2025-09-01;Rennes;Zone B;2024-2025",
                         "Vacances d'Été;Élèves;2025-07-05;2025-09-02;Rennes;Zone B;2024-2025")
    with pytest.raises(InvalidFile) as refused:
        read_calendar_csv(conflict)
    assert [(e.line, e.code) for e in refused.value.errors] == [(3, "row.conflict")]
    no_dates = write_csv("Description;Population;Académies;annee_scolaire", "Vacances d'Été;-;Rennes;2024-2025")
    with pytest.raises(InvalidFile) as refused:
        read_calendar_csv(no_dates)
    assert {e.column for e in refused.value.errors} == {"start", "end"}


def test_school_years_run_from_one_resumption_to_the_day_before_the_next() -> None:
    reunion = AcademyCalendar("28", {2024: Summer(date(2025, 7, 5), date(2025, 8, 18)),
                                     2025: Summer(date(2026, 7, 4), date(2026, 8, 17))})
    assert (reunion.first_day(2025), reunion.last_day(2025)) == (date(2025, 8, 18), date(2026, 8, 16))
    assert (reunion.last_day(2024), reunion.school_year_of(date(2025, 8, 17))) == (date(2025, 8, 17), 2024)
    assert reunion.school_year_of(date(2025, 8, 18)) == 2025
    # A summer not loaded: that bound falls back (La Réunion: 16 August), the years still tile time.
    assert (reunion.first_day(2024), reunion.last_day(2026)) == (date(2024, 8, 16), date(2027, 8, 15))
    for year in range(2023, 2027):
        assert reunion.last_day(year) + timedelta(days=1) == reunion.first_day(year + 1)


def test_the_inbound_date_check_uses_the_academy_calendar() -> None:
    # La Réunion resumes on 18 August 2025 in the calendar; its fallback year starts on the 16th.
    reunion = AcademyCalendar("28", {2024: Summer(date(2025, 7, 5), date(2025, 8, 18))})
    check_dates(reported(start_date="2025-08-16"), "28", timedelta(0))
    with pytest.raises(ImpossibleDates, match="school_year"):
        check_dates(reported(start_date="2025-08-16"), "28", timedelta(0), reunion)
    check_dates(reported(start_date="2025-08-18"), "28", timedelta(0), reunion)


def test_the_sample_is_shipped_inside_the_package() -> None:
    assert SAMPLE.is_file()
    assert Path(SAMPLE).parent.name == "reference"
