"""The barème of calculation.md §2: normalisation, the decision table, special cases, examples 19–29."""

from __future__ import annotations

from datetime import date
from importlib import resources
from typing import Any

import pytest
import yaml
from aplypro_calculator.domain.bareme import MefRow, Priced, Unpriced, load_bareme

CULTURES_MARINES = "40021204"


def row(
    ministry: str, dispositif: str, year: int, *, diploma: str = "40025001", label: str = "BAC PRO EXEMPLE"
) -> MefRow:
    """A BCN row whose MEF code agrees with its ANNEE (10th character); DUREE left empty."""
    return MefRow.from_bcn(
        {
            "MEF": f"{dispositif}311153{year}",
            "DISPOSITIF_FORMATION": dispositif,
            "FORMATION_DIPLOME": diploma,
            "DUREE_DISPOSITIF": "",
            "ANNEE_DISPOSITIF": str(year),
            "LIBELLE_LONG": label,
            "MINISTERE": ministry,
        }
    )


def euros(result: Priced | Unpriced) -> tuple[int, int]:
    assert isinstance(result, Priced), result
    return result.daily_rate_cents // 100, result.yearly_cap_cents // 100


def raw_data() -> dict[str, Any]:
    text = resources.files("aplypro_calculator.domain").joinpath("bareme.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


# --- §2.2 normalisation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "normalised"),
    [("MENJ", "MENJ"), (" menj ", "MENJ"), ("Mer", "MER"), ("MASA", "MASA"), ("ARMEE", "ARMEES"),
     ("ARMEES", "ARMEES"), ("Armées", "ARMEES"), ("armée", "ARMEES")],
)
def test_the_ministry_is_trimmed_upper_cased_and_armees_has_one_spelling(written: str, normalised: str) -> None:
    assert row(written, "247", 1).ministry == normalised


def test_empty_duree_and_annee_are_read_from_the_9th_and_10th_characters_of_the_mef() -> None:
    mef = MefRow.from_bcn({"MEF": "2422100432", "DISPOSITIF_FORMATION": "242", "DUREE_DISPOSITIF": "",
                           "ANNEE_DISPOSITIF": "", "MINISTERE": "MENJ"})
    assert (mef.duration, mef.year) == (3, 2)


def test_duree_and_annee_when_present_are_taken_as_they_are() -> None:
    mef = MefRow.from_bcn({"MEF": "2803400199", "DUREE_DISPOSITIF": "9", "ANNEE_DISPOSITIF": "9"})
    assert (mef.duration, mef.year, mef.dispositif) == (9, 9, "280")


def test_a_seven_digit_diploma_is_left_padded_to_eight() -> None:
    assert row("MENJ", "253", 1, diploma="1025001").diploma == "01025001"
    assert row("MER", "247", 2, diploma=CULTURES_MARINES).diploma == CULTURES_MARINES


def test_from_bcn_ignores_other_columns_and_tolerates_missing_ones() -> None:
    mef = MefRow.from_bcn({"MEF": " 2473111533 ", "STATUT_MEF": "4", "DATE_FERMETURE": "31/08/2026"})
    assert mef == MefRow("2473111533", "247", "", 3, 3, "", "")


# --- §2.3 decision table, every family and year -------------------------------------------------

# (ministry, dispositif, year, diploma, label, 2023-24, 2024-25, 2025-26) as printed in §2.3.
TABLE: list[tuple[str, str, int, str, str, tuple[int, int], tuple[int, int], tuple[int, int]]] = [
    ("MENJ", "240", 1, "50025001", "CAP", (15, 525), (15, 525), (15, 525)),
    ("MENJ", "241", 1, "50025001", "CAP", (10, 350), (10, 350), (10, 350)),
    ("MENJ", "241", 2, "50025001", "CAP", (15, 525), (15, 525), (15, 525)),
    ("MENJ", "242", 2, "50025001", "CAP", (15, 525), (15, 525), (15, 525)),
    ("MENJ", "242", 3, "50025001", "CAP", (15, 525), (15, 525), (15, 525)),
    ("MENJ", "247", 1, "40025001", "BAC", (10, 300), (10, 300), (10, 300)),
    ("MENJ", "247", 2, "40025001", "BAC", (15, 600), (15, 600), (15, 600)),
    ("MENJ", "247", 3, "40025001", "BAC", (20, 800), (20, 1200), (20, 1000)),
    ("MENJ", "276", 1, "40025001", "BAC", (10, 300), (10, 300), (10, 300)),
    ("MENJ", "276", 2, "40025001", "BAC", (15, 600), (15, 600), (15, 600)),
    ("MENJ", "276", 3, "40025001", "BAC", (20, 800), (20, 1200), (20, 1000)),
    ("MENJ", "250", 1, "45025001", "BMA", (20, 800), (20, 800), (20, 800)),
    ("MENJ", "251", 1, "45025001", "BMA", (15, 600), (15, 600), (15, 600)),
    ("MENJ", "251", 2, "45025001", "BMA", (20, 800), (20, 800), (20, 800)),
    ("MENJ", "221", 1, "46025001", "1BT", (15, 600), (15, 600), (15, 600)),
    ("MENJ", "222", 1, "46025001", "TBT", (20, 800), (20, 800), (20, 800)),
    ("MENJ", "253", 1, "01025001", "PATISSERIE (MC3)", (15, 1350), (20, 1800), (15, 1350)),
    ("MENJ", "253", 1, "01025002", "SOMMELLERIE (MC4)", (20, 1800), (20, 1800), (20, 1800)),
    ("MENJ", "253", 1, "01025003", "SOMMELLERIE", (20, 1800), (20, 1800), (20, 1800)),
    ("MENJ", "257", 1, "01025001", "CS", (15, 1350), (15, 1350), (15, 1350)),
    ("MENJ", "258", 1, "01025001", "CS", (20, 1800), (20, 1800), (20, 1800)),
    ("MENJ", "740", 1, "00025001", "FCIL", (15, 1350), (15, 1350), (15, 1350)),
    ("MENJ", "741", 1, "00025001", "FCIL", (20, 1800), (20, 1800), (20, 1800)),
    ("MENJ", "703", 1, "00025001", "PAE", (15, 750), (15, 750), (15, 750)),
    ("MENJ", "704", 1, "00025001", "PAE", (20, 1000), (20, 1000), (20, 1000)),
    ("MASA", "271", 1, "50325001", "CAPA", (10, 450), (10, 450), (10, 450)),
    ("MASA", "271", 2, "50325001", "CAPA", (15, 675), (15, 675), (15, 675)),
    ("MASA", "280", 9, "50325001", "CAPA", (15, 675), (15, 675), (15, 675)),
    ("MASA", "276", 1, "40325001", "BACA", (10, 300), (10, 300), (10, 300)),
    ("MASA", "276", 2, "40325001", "BACA", (15, 900), (15, 900), (15, 900)),
    ("MASA", "276", 3, "40325001", "BACA", (20, 800), (20, 800), (20, 800)),
    # MER: MENJ values in 2023-24 (§2.4), its own caps from 2024-25.
    ("MER", "241", 1, "50021201", "CAPM", (10, 350), (10, 300), (10, 300)),
    ("MER", "241", 2, "50021201", "CAPM", (15, 525), (15, 450), (15, 450)),
    ("MER", "247", 1, CULTURES_MARINES, "BACM", (10, 300), (10, 200), (10, 200)),
    ("MER", "247", 1, "40021205", "BACM", (10, 300), (10, 200), (10, 200)),
    ("MER", "247", 2, "40021205", "BACM", (15, 600), (15, 450), (15, 450)),
    ("MER", "247", 2, CULTURES_MARINES, "BACM", (15, 600), (15, 600), (15, 600)),
    ("MER", "247", 3, "40021205", "BACM", (20, 800), (20, 800), (20, 800)),
    ("MER", "247", 3, CULTURES_MARINES, "BACM", (20, 800), (20, 700), (20, 700)),
]


@pytest.mark.parametrize(("ministry", "dispositif", "year", "diploma", "label", "y23", "y24", "y25"), TABLE)
def test_every_row_of_the_decision_table_gets_its_rate_and_cap_every_year(
    ministry: str, dispositif: str, year: int, diploma: str, label: str,
    y23: tuple[int, int], y24: tuple[int, int], y25: tuple[int, int],
) -> None:
    mef = row(ministry, dispositif, year, diploma=diploma, label=label)
    for school_year, expected in ((2023, y23), (2024, y24), (2025, y25)):
        assert euros(load_bareme().price(mef, school_year)) == expected, school_year


def test_every_cap_in_the_data_file_is_rate_times_five_days_times_whole_weeks() -> None:
    for year, params in raw_data()["school_years"].items():
        for table, entries in params["prices"].items():
            for family, e in entries.items():
                assert e["cap"] % (e["rate"] * 5) == 0, (year, table, family)


def test_the_menj_terminale_cap_is_eight_then_twelve_then_ten_weeks() -> None:
    weeks = [load_bareme().price(row("MENJ", "247", 3), y) for y in (2023, 2024, 2025)]
    assert [p.yearly_cap_cents // (p.daily_rate_cents * 5) for p in weeks if isinstance(p, Priced)] == [8, 12, 10]


def test_a_priced_row_carries_family_table_reference_and_year() -> None:
    priced = load_bareme().price(row("MENJ", "247", 3), 2024)
    assert isinstance(priced, Priced)
    assert priced == Priced(2000, 120000, "BAC-T", "MENJ", priced.legal_reference, 2024)
    assert "national table 2024-25" in priced.legal_reference
    plain = load_bareme().price(row("MENJ", "247", 2), 2025)
    assert isinstance(plain, Priced)
    assert "décret n° 2023-765" in plain.legal_reference
    assert "arrêté du 11 août 2023" in plain.legal_reference


def test_the_barème_is_read_once_and_exposes_its_years_and_periods() -> None:
    assert load_bareme() is load_bareme()
    assert load_bareme().school_years == (2023, 2024, 2025)
    assert load_bareme().period(2024) == (date(2024, 9, 1), date(2025, 8, 31))
