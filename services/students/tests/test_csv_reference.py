"""Reference files: the establishments directory and the BCN MEF export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.domain.reference import Establishment, Mef
from aplypro_students.domain.report import InvalidFile

from .conftest import DATA

WriteCsv = Callable[..., Path]
BCN_HEADER = "MEF,DISPOSITIF_FORMATION,FORMATION_DIPLOME,DUREE_DISPOSITIF,ANNEE_DISPOSITIF,LIBELLE_LONG,MINISTERE"


def test_the_sample_establishments_are_read() -> None:
    jaures, bocage = read_establishments_csv(DATA / "establishments.csv")
    assert jaures == Establishment("0999001K", "Lycée professionnel Jean Jaurès", "MENJ", "14", "99",
                                   ("1 rue de l'École",), "35000", "RENNES", "ce.0999001k@ac-exemple.fr",
                                   "0299000000", "Mme Claire Dupont")
    assert (bocage.ministry, bocage.contract_type_code, bocage.email, bocage.head_name) == ("MASA", "30", None, None)


def test_bad_establishment_rows_refuse_the_file(write_csv: WriteCsv) -> None:
    with pytest.raises(InvalidFile) as caught:
        read_establishments_csv(write_csv("uai;name;academy_code", "0999001K;A;14", "099900K;B;14", "0999001k;C;1"))
    assert [(e.line, e.column, e.code) for e in caught.value.errors] == [
        (3, "uai", "uai.format"), (4, "academy_code", "academy_code.format")]


def test_a_uai_twice_is_refused(write_csv: WriteCsv) -> None:
    with pytest.raises(InvalidFile) as caught:
        read_establishments_csv(write_csv("uai;name", "0999001K;A", "0999001k;B"))
    assert [(e.line, e.code) for e in caught.value.errors] == [(3, "uai.duplicate")]


def test_the_bcn_export_is_read_with_its_extra_columns_ignored() -> None:
    mefs = read_bcn_mefs_csv(DATA / "mefs.csv")
    assert mefs[0] == Mef("2473121133", "247", "40025510", 3, 3, "BAC PRO METIERS DE L'ELECTRICITE", "MENJ")
    assert [m.code for m in mefs] == ["2473121133", "2473121132", "2412540321"]


def test_bcn_diplomas_are_padded_to_8_and_windows_1252_is_accepted(write_csv: WriteCsv) -> None:
    path = write_csv(BCN_HEADER, "27633003111,276,3003111,,,BPA TRAVAUX DES AMÉNAGEMENTS,MASA", encoding="cp1252")
    (mef,) = read_bcn_mefs_csv(path)
    assert (mef.code, mef.diploma, mef.duration, mef.year, mef.label) == (
        "2763300311", "03003111", None, None, "BPA TRAVAUX DES AMÉNAGEMENTS")


def test_bad_bcn_rows_are_located(write_csv: WriteCsv) -> None:
    with pytest.raises(InvalidFile) as caught:
        read_bcn_mefs_csv(write_csv(BCN_HEADER, "247312113,247,40025510,3,3,X,MENJ", "2473121133,24,40025510,x,3,X,"))
    assert [(e.line, e.code) for e in caught.value.errors] == [
        (2, "mef.format"), (3, "dispositif_formation.format"), (3, "duree_dispositif.format"),
        (3, "ministere.missing")]


def test_reference_cells_follow_the_contract_limits(write_csv: WriteCsv) -> None:
    # what the contracts would refuse is refused here, with its line and column, so a load never breaks an event
    with pytest.raises(InvalidFile) as caught:
        read_establishments_csv(write_csv("uai;name;head_name;city", "0999001K;A;" + "H" * 101 + ";RENNES",
                                          "0999002L;" + "N" * 201 + ";;", "0999003M;B;;REN\x0bNES",
                                          "0999004N;" + "N" * 200 + ";" + "H" * 100 + ";R"))
    assert [(e.line, e.column, e.code) for e in caught.value.errors] == [
        (2, "head_name", "head_name.too_long"), (3, "name", "name.too_long"), (4, "city", "city.control_character")]
    with pytest.raises(InvalidFile) as caught:
        read_bcn_mefs_csv(write_csv(BCN_HEADER + ",REMARQUE", "2473121133,247,40025510,３,3,BAC PRO,MENJ,\x01"))
    assert [(e.line, e.column, e.code) for e in caught.value.errors] == [  # the ignored column is not checked
        (2, "duree_dispositif", "duree_dispositif.format")]
