"""Payload builders in FREGATA's shape (imports.md §3.2) and a sample agricultural school with the awkward cases.

All people, INEs and UAIs are invented.
"""

from __future__ import annotations

from typing import Any

from aplypro_local.fake_fregata.state import YEAR_OFFSET, FakeFregataState

UAI, YEAR = "0999002L", 2025
SECONDE, PREMIERE = "27621010219", "27621010229"  # 11 characters, as the API sends MEFs
_ids = iter(range(88_400, 1_000_000))


def address(*street: str | None, postal_code: str = "35000", city: str = "RENNES", city_insee: str = "35238",
            priority: bool = True) -> dict[str, Any]:
    """One `adressesApprenant` element: `street` fills ligne2..ligne5, ligne6 is "postcode CITY"."""
    lines = [*street, None, None, None, None][:4]
    return {"estPrioritaire": priority, "adresseIndividu": {
        "ligne2": lines[0], "ligne3": lines[1], "ligne4": lines[2], "ligne5": lines[3],
        "ligne6": f"{postal_code} {city}", "ligne7": "FRANCE", "communeCodePostal": postal_code,
        "communeCodeInsee": city_insee, "paysCodeInsee": "99100"}}


def inscription(ine: str | None, nom: str | None, prenom: str | None, birth: str | None, *,
                division: str | None = "2NDE PRO AGROEQUIP", mef: str = SECONDE, year: int = YEAR,
                status: str = "2501", sex: str = "2", start: str | None = "2025-09-01",
                end: str | None = None, left_school: str | None = None, hosted_for_menj: bool = False,
                addresses: list[dict[str, Any]] | None = None, birth_city: str | None = "35238",
                birth_country: str | None = "99100", **overrides: Any) -> dict[str, Any]:
    """One inscription; `end` is dateSortieFormation, `left_school` dateSortieEtablissement.

    `field=...` in `overrides` removes a top-level field; `apprenant={...}` entries update the learner.
    """
    learner: dict[str, Any] = {
        "ine": ine, "prenomUsuel": prenom, "nomUsuel": nom, "dateNaissance": birth, "sexeId": sex,
        "communeCodeInsee": birth_city, "paysCodeInsee": birth_country,
        "adressesApprenant": addresses if addresses is not None else [address("4 allée des Chênes")]}
    learner.update(overrides.pop("apprenant", {}))
    entry: dict[str, Any] = {
        "id": next(_ids), "estEN": hosted_for_menj, "dateEntreeEtablissement": start, "dateEntreeFormation": start,
        "dateSortieEtablissement": left_school, "dateSortieFormation": end,
        "statutApprenant": {"code": status}, "division": {"libelle": division} if division is not None else None,
        "sectionReference": {"codeMef": mef, "anneeScolaireId": year - YEAR_OFFSET},
        "apprenant": {k: v for k, v in learner.items() if v is not ...}}
    entry.update(overrides)
    return {k: v for k, v in entry.items() if v is not ...}


def sample_entries(year: int = YEAR) -> list[dict[str, Any]]:
    """Regular students, a MENJ learner hosted here, leavers, an apprentice, an adult learner, an irrelevant MEF,
    a duplicate INE, missing fields, impossible dates and an unknown status code."""
    return [
        inscription("000111224AC", "DIALLO", "Aminata", "2009-09-30", year=year, addresses=[
            address(None, "Résidence Les Genêts", "4 allée des Chênes", priority=True),
            address("1 rue Ailleurs", postal_code="75001", city="PARIS", city_insee="75101", priority=False)]),
        inscription("000111234AN", "KERVRAN", "Maël", "2008-02-11", sex="1", division="1ERE PRO AGROEQUIP",
                    mef=PREMIERE, year=year),
        inscription("000111235AP", "MENJ", "Hébergé", "2008-05-05", year=year, hosted_for_menj=True),
        inscription("000111236AQ", "LEGALL", "Rose", "2008-03-03", year=year, end="2025-11-28"),  # left
        inscription("000111237AR", "PRIGENT", "Yann", "2008-04-04", sex="1", year=year,
                    left_school="2025-12-05"),  # left: only the establishment's exit date
        inscription("000111238AS", "TANGUY", "Léo", "2007-03-09", sex="1", status="2503", year=year),  # apprentice
        inscription("000111239AT", "MORVAN", "Anne", "2001-01-15", status="2502", year=year),  # adult: other
        inscription("000111240AU", "PETIT", "Sam", "2008-01-30", mef="99999999991", year=year),  # MEF not eligible
        inscription("000111241AV", "ROUX", "Jade", "2008-05-05", year=year),
        inscription("000111241AV", "ROUX", "Jade", "2008-05-05", year=year),  # the same INE twice
        inscription("000111242AW", None, "Noé", "2008-02-02", year=year),  # no name
        inscription(None, "SANS", "Ine", "2008-02-02", year=year),  # no INE
        inscription("000111243AX", "BLANC", "Lou", "2008-02-30", year=year),  # no such day
        inscription("000111244AY", "NOIR", "Tom", "2008-03-03", year=year, end="2025-08-01"),  # ends before start
        inscription("000111245AZ", "GRIS", "Eva", "2008-07-07", sex="0", year=year, addresses=[]),  # sex unknown
        inscription("000111246BA", "BRUN", "Max", "2008-08-08", status="9999", year=year),  # unknown status
    ]


def sample_state(uai: str = UAI, year: int = YEAR) -> FakeFregataState:
    state = FakeFregataState()
    state.add(*sample_entries(year), uai=uai, school_year=year)
    return state
