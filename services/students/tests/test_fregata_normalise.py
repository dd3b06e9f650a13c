"""FREGATA inscriptions into the students file's columns (imports.md §3.2, §4): each field, each odd shape."""

from __future__ import annotations

from typing import Any

from aplypro_local.fake_fregata.sample import address, inscription
from aplypro_students.adapters.fregata import normalise

UAI = "0999002L"
DOC_EXAMPLE: dict[str, Any] = {  # imports.md §3.2, verbatim
    "id": 88412, "estEN": False,
    "dateEntreeEtablissement": "2025-09-01", "dateEntreeFormation": "2025-09-03",
    "dateSortieEtablissement": None, "dateSortieFormation": None,
    "statutApprenant": {"code": "2501"}, "division": {"libelle": "2NDE PRO AGROEQUIP"},
    "sectionReference": {"codeMef": "27621010219", "anneeScolaireId": 29},
    "apprenant": {"ine": "000111224AC", "prenomUsuel": "Aminata", "nomUsuel": "DIALLO",
                  "dateNaissance": "2009-09-30", "sexeId": "2", "communeCodeInsee": "35238",
                  "paysCodeInsee": "99100",
                  "adressesApprenant": [{"estPrioritaire": True, "adresseIndividu": {
                      "ligne2": None, "ligne3": "Résidence Les Genêts", "ligne4": "4 allée des Chênes",
                      "ligne5": None, "ligne6": "35000 RENNES", "ligne7": "FRANCE",
                      "communeCodePostal": "35000", "communeCodeInsee": "35238", "paysCodeInsee": "99100"}}]}}


def test_the_documented_example_maps_to_every_column() -> None:
    assert normalise.cells(DOC_EXAMPLE, uai=UAI, school_year=2025) == {
        "uai": UAI, "annee_scolaire": "2025", "ine": "000111224AC", "nom": "DIALLO", "prenoms": "Aminata",
        "date_naissance": "2009-09-30", "sexe": "F", "commune_naissance_insee": "35238",
        "pays_naissance_insee": "99100", "adresse_ligne1": "Résidence Les Genêts",
        "adresse_ligne2": "4 allée des Chênes", "code_postal": "35000", "commune_residence_insee": "35238",
        "commune_residence": "RENNES", "pays_residence_insee": "99100", "classe": "2NDE PRO AGROEQUIP",
        "code_mef": "27621010219", "statut": "scolaire", "date_debut": "2025-09-03", "date_fin": ""}


def test_statuses_map_to_ours_and_unknown_codes_pass_through_to_be_refused() -> None:
    def status(code: str) -> str:
        return normalise.cells(inscription("000111224AC", "A", "B", "2009-01-01", status=code), uai=UAI,
                               school_year=2025)["statut"]
    assert [status(c) for c in ("2501", "2503", "0000", "2502", "2504", "2505", "2506", "9999")] == [
        "scolaire", "apprenti", "autre", "autre", "autre", "autre", "autre", "9999"]


def test_sex_zero_or_missing_is_unknown_never_male() -> None:
    for sex in ("0", "", "3"):
        entry = inscription("000111224AC", "A", "B", "2009-01-01", sex=sex)
        assert normalise.cells(entry, uai=UAI, school_year=2025)["sexe"] == ""
    assert normalise.cells(inscription("000111224AC", "A", "B", "2009-01-01", sex="1"), uai=UAI,
                           school_year=2025)["sexe"] == "M"


def test_only_the_priority_address_counts_and_a_blank_one_is_none() -> None:
    other = address("1 rue Ailleurs", postal_code="75001", city="PARIS", priority=False)
    learner = {"adressesApprenant": [other]}
    assert normalise.priority_address(learner) == {}
    blank = {"estPrioritaire": True, "adresseIndividu": dict.fromkeys(
        ("ligne2", "ligne3", "ligne4", "ligne5", "ligne6", "communeCodePostal", "communeCodeInsee", "paysCodeInsee"))}
    assert normalise.priority_address({"adressesApprenant": [other, blank]}) == {}
    assert normalise.priority_address({"adressesApprenant": None}) == {}


def test_the_city_is_line_six_without_its_postcode() -> None:
    assert normalise.city_name("35000   RENNES", "35000") == "RENNES"
    assert normalise.city_name("29900 CONCARNEAU", "") == "CONCARNEAU"
    assert normalise.city_name("SAINT-DENIS", "97400") == "SAINT-DENIS"


def test_end_is_the_trainings_exit_else_the_establishments() -> None:
    left = inscription("000111224AC", "A", "B", "2009-01-01", left_school="2025-12-05")
    assert normalise.cells(left, uai=UAI, school_year=2025)["date_fin"] == "2025-12-05"
    both = inscription("000111224AC", "A", "B", "2009-01-01", end="2025-11-28", left_school="2025-12-05")
    assert normalise.cells(both, uai=UAI, school_year=2025)["date_fin"] == "2025-11-28"


def test_dates_served_as_midnight_date_times_give_their_date() -> None:
    entry = inscription("000111224AC", "A", "B", "2009-01-01T00:00:00.000+0000", start="2025-09-01T00:00:00Z")
    cells = normalise.cells(entry, uai=UAI, school_year=2025)
    assert (cells["date_naissance"], cells["date_debut"]) == ("2009-01-01", "2025-09-01")


def test_the_year_comes_from_the_section_else_the_request() -> None:
    assert normalise.cells(inscription("000111224AC", "A", "B", "2009-01-01", year=2024), uai=UAI,
                           school_year=2025)["annee_scolaire"] == "2024"
    entry = inscription("000111224AC", "A", "B", "2009-01-01", sectionReference={"codeMef": "27621010219"})
    assert normalise.cells(entry, uai=UAI, school_year=2025)["annee_scolaire"] == "2025"


def test_hosted_menj_learners_are_recognised_and_missing_objects_read_as_empty() -> None:
    assert normalise.hosted_for_menj(inscription("000111224AC", "A", "B", "2009-01-01", hosted_for_menj=True))
    assert normalise.hosted_for_menj({"estEN": "true"})  # a second, payable schooling otherwise
    assert not normalise.hosted_for_menj({"estEN": False})
    assert not normalise.hosted_for_menj({})
    cells = normalise.cells({"apprenant": None, "division": None, "statutApprenant": "2501"}, uai=UAI,
                            school_year=2025)
    assert (cells["ine"], cells["classe"], cells["statut"]) == ("", "", "")
