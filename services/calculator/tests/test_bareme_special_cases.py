"""§2.4 special cases, the closed list of unpriced reasons (§2.6), and worked examples 19–29."""

from __future__ import annotations

from datetime import date
from importlib import resources
from typing import Any

import pytest
import yaml
from aplypro_calculator.domain.bareme import Bareme, BaremeDataError, MefRow, Priced, Unpriced, load_bareme
from aplypro_calculator.domain.pool import PoolPfmp, allocate

CULTURES_MARINES = "40021204"


def bcn(ministry: str, dispositif: str, year: str, *, duration: str = "", mef: str = "",
        diploma: str = "40025001", label: str = "LIBELLE") -> MefRow:
    """A BCN row as it appears in the files; the MEF code carries duration and year (chars 9–10)."""
    code = mef or f"{dispositif}31115{duration or 3}{year or 1}"
    return MefRow.from_bcn({
        "MEF": code, "DISPOSITIF_FORMATION": dispositif, "FORMATION_DIPLOME": diploma,
        "DUREE_DISPOSITIF": duration, "ANNEE_DISPOSITIF": year, "LIBELLE_LONG": label, "MINISTERE": ministry,
    })


def rate_cap(result: Priced | Unpriced) -> tuple[int, int]:
    assert isinstance(result, Priced), result
    return result.daily_rate_cents // 100, result.yearly_cap_cents // 100


def amount_for(mef: MefRow, school_year: int, days: int) -> int:
    """Price the row, then give one PFMP of `days` days its amount, in euros."""
    priced = load_bareme().price(mef, school_year)
    assert isinstance(priced, Priced), priced
    pfmp = PoolPfmp("p", date(school_year, 10, 1), date(school_year + 1, 3, 1), 1, days)
    amount = allocate(priced.daily_rate_cents, priced.yearly_cap_cents, [pfmp]).get("p").amount_cents
    assert amount is not None
    return amount // 100


def raw_data() -> dict[str, Any]:
    text = resources.files("aplypro_calculator.domain").joinpath("bareme.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


# --- worked examples 19–29 ------------------------------------------------------------------------


def test_example_19_menj_terminale_2023_24_is_20_800_and_45_days_are_capped_at_800() -> None:
    mef = bcn("MENJ", "247", "3", duration="3")
    assert rate_cap(load_bareme().price(mef, 2023)) == (20, 800)
    assert amount_for(mef, 2023, 45) == 800


def test_example_20_the_same_row_in_2024_25_is_20_1200_and_65_days_give_1200() -> None:
    mef = bcn("MENJ", "247", "3", duration="3")
    assert rate_cap(load_bareme().price(mef, 2024)) == (20, 1200)
    assert amount_for(mef, 2024, 65) == 1200


def test_example_21_the_same_row_in_2025_26_is_20_1000_and_12_days_give_240() -> None:
    mef = bcn("MENJ", "247", "3", duration="3")
    assert rate_cap(load_bareme().price(mef, 2025)) == (20, 1000)
    assert amount_for(mef, 2025, 12) == 240


def test_example_22_mer_cultures_marines_premiere_is_15_600_and_35_days_give_525() -> None:
    mef = bcn("MER", "247", "2", diploma=CULTURES_MARINES)
    assert rate_cap(load_bareme().price(mef, 2025)) == (15, 600)
    assert amount_for(mef, 2025, 35) == 525


def test_example_23_mer_other_specialty_premiere_is_15_450_and_35_days_give_450() -> None:
    mef = bcn("MER", "247", "2", diploma="40021205")
    assert rate_cap(load_bareme().price(mef, 2025)) == (15, 450)
    assert amount_for(mef, 2025, 35) == 450


def test_example_24_mer_cap_first_year_is_menj_priced_in_2023_24_and_mer_priced_after() -> None:
    mef = bcn("Mer", "241", "1", duration="2")
    assert rate_cap(load_bareme().price(mef, 2023)) == (10, 350)
    assert rate_cap(load_bareme().price(mef, 2024)) == (10, 300)


def test_example_25_mc_level_comes_from_the_label_and_2024_25_pays_every_mc_at_20_1800() -> None:
    mc3 = bcn("MENJ", "253", "1", duration="1", diploma="01025001", label="PATISSERIE GLACERIE (MC3)")
    mc_plain = bcn("MENJ", "253", "1", duration="1", diploma="01025002", label="SOMMELLERIE")
    assert rate_cap(load_bareme().price(mc3, 2023)) == (15, 1350)
    assert rate_cap(load_bareme().price(mc3, 2024)) == (20, 1800)
    assert rate_cap(load_bareme().price(mc_plain, 2023)) == (20, 1800)


def test_example_26_empty_duree_and_annee_take_the_year_from_the_mef_code() -> None:
    mef = bcn("MENJ", "242", "", duration="", mef="2422100432")
    assert mef.year == 2
    assert rate_cap(load_bareme().price(mef, 2024)) == (15, 525)


def test_example_27_capa_in_one_year_with_duree_annee_9_is_15_675() -> None:
    mef = bcn("MASA", "280", "9", duration="9", mef="2803400199")
    assert rate_cap(load_bareme().price(mef, 2025)) == (15, 675)


def test_example_28_the_ministry_not_the_dispositif_chooses_the_table_for_276() -> None:
    assert rate_cap(load_bareme().price(bcn("MENJ", "276", "3"), 2024)) == (20, 1200)
    assert rate_cap(load_bareme().price(bcn("MASA", "276", "3"), 2025)) == (20, 800)
    assert rate_cap(load_bareme().price(bcn("MENJ", "276", "2"), 2024)) == (15, 600)
    assert rate_cap(load_bareme().price(bcn("MASA", "276", "2"), 2025)) == (15, 900)


@pytest.mark.parametrize("school_year", [2023, 2024, 2025])
def test_example_29_cap_in_three_years_first_year_has_no_allowance(school_year: int) -> None:
    result = load_bareme().price(bcn("MENJ", "242", "1"), school_year)
    assert isinstance(result, Unpriced)
    assert result.reason == "year_not_covered"


@pytest.mark.parametrize("ministry", ["Armées", "ARMEE", "ARMEES"])
def test_example_29_an_armees_row_is_unpriced_never_priced_as_menj(ministry: str) -> None:
    result = load_bareme().price(bcn(ministry, "247", "3"), 2025)
    assert isinstance(result, Unpriced)
    assert result.reason == "ministry_without_bareme"


# --- the other unpriced reasons -------------------------------------------------------------------


@pytest.mark.parametrize("school_year", [2022, 2026, 0])
def test_a_school_year_without_parameters_is_an_error_not_a_guess(school_year: int) -> None:
    result = load_bareme().price(bcn("MENJ", "247", "3"), school_year)
    assert isinstance(result, Unpriced)
    assert result.reason == "unknown_school_year"
    assert str(school_year) in result.detail


@pytest.mark.parametrize(("ministry", "dispositif"), [("MENJ", "271"), ("MENJ", "280"), ("MASA", "247"),
                                                      ("MER", "240"), ("MENJ", "248"), ("MENJ", "")])
def test_a_dispositif_absent_from_the_ministry_table_is_not_covered(ministry: str, dispositif: str) -> None:
    result = load_bareme().price(bcn(ministry, dispositif, "1", mef="0000000011"), 2025)
    assert isinstance(result, Unpriced)
    assert result.reason == "dispositif_not_covered"


@pytest.mark.parametrize(("ministry", "dispositif", "year"), [("MENJ", "247", "4"), ("MASA", "271", "3"),
                                                              ("MER", "247", "4"), ("MENJ", "251", "3")])
def test_a_year_absent_from_the_family_is_not_covered(ministry: str, dispositif: str, year: str) -> None:
    result = load_bareme().price(bcn(ministry, dispositif, year), 2025)
    assert isinstance(result, Unpriced)
    assert result.reason == "year_not_covered"


def test_an_unknown_ministry_has_no_bareme() -> None:
    result = load_bareme().price(bcn("", "247", "3"), 2025)
    assert isinstance(result, Unpriced)
    assert result.reason == "ministry_without_bareme"


def test_a_label_marker_only_counts_as_a_whole_token() -> None:
    mc35 = bcn("MENJ", "253", "1", label="PATISSERIE MC35", diploma="01025001")
    assert rate_cap(load_bareme().price(mc35, 2023)) == (20, 1800)


# --- the deviations are parameters ----------------------------------------------------------------


def test_the_deviations_are_named_in_the_legal_reference() -> None:
    mer = load_bareme().price(bcn("MER", "247", "3", diploma=CULTURES_MARINES), 2023)
    mc3 = load_bareme().price(bcn("MENJ", "253", "1", label="X (MC3)"), 2024)
    assert isinstance(mer, Priced)
    assert isinstance(mc3, Priced)
    assert (mer.ministry_table, mer.family) == ("MENJ", "BAC-T")
    assert "mer_priced_as_menj_2023" in mer.legal_reference
    assert mc3.family == "MC-3"
    assert "mc3_priced_as_mc4_2024" in mc3.legal_reference


def test_switching_the_deviations_off_gives_the_arrete_values() -> None:
    raw = raw_data()
    for deviation in raw["deviations"]:
        deviation["enabled"] = False
    legal = Bareme.from_mapping(raw)
    mer = legal.price(bcn("MER", "247", "3", diploma=CULTURES_MARINES), 2023)
    assert rate_cap(mer) == (20, 700)
    assert isinstance(mer, Priced)
    assert mer.ministry_table == "MER"
    assert rate_cap(legal.price(bcn("MER", "241", "1"), 2023)) == (10, 300)
    assert rate_cap(legal.price(bcn("MENJ", "253", "1", label="X (MC3)"), 2024)) == (15, 1350)


# --- the data file is checked when read -----------------------------------------------------------


def test_two_families_matching_one_row_are_ambiguous_never_resolved_silently() -> None:
    raw = raw_data()
    raw["families"]["MENJ"].append({"family": "BAC-T-BIS", "dispositifs": ["247"], "years": [3]})
    for params in raw["school_years"].values():
        params["prices"]["MENJ"]["BAC-T-BIS"] = {"rate": 20, "cap": 800, "ref": "arrete"}
    result = Bareme.from_mapping(raw).price(bcn("MENJ", "247", "3"), 2025)
    assert isinstance(result, Unpriced)
    assert result.reason == "ambiguous"
    assert "BAC-T" in result.detail
    assert "BAC-T-BIS" in result.detail


def _broken(edit: str) -> dict[str, Any]:
    raw = raw_data()
    menj_2025 = raw["school_years"][2025]["prices"]["MENJ"]
    if edit == "missing entry":
        del menj_2025["CAP1"]
    elif edit == "unknown selector key":
        raw["families"]["MENJ"][0]["year"] = [1]
    elif edit == "unknown reference":
        menj_2025["CAP1"]["ref"] = "nowhere"
    elif edit == "euros with cents":
        menj_2025["CAP1"]["rate"] = 15.5
    elif edit == "deviation to unknown family":
        raw["deviations"][1]["priced_as_family"] = "MC-5"
    elif edit == "ministry to unknown table":
        raw["ministries"]["ARMEES"] = "ARMEES"
    elif edit == "period reversed":
        raw["school_years"][2025]["period"] = {"start": date(2026, 8, 31), "end": date(2025, 9, 1)}
    elif edit == "deviation without switch":
        del raw["deviations"][0]["enabled"]
    elif edit == "no families":
        del raw["families"]
    return raw


@pytest.mark.parametrize("edit", ["missing entry", "unknown selector key", "unknown reference", "euros with cents",
                                  "deviation to unknown family", "ministry to unknown table", "period reversed",
                                  "deviation without switch", "no families"])
def test_a_malformed_data_file_fails_loudly(edit: str) -> None:
    with pytest.raises(BaremeDataError):
        Bareme.from_mapping(_broken(edit))
