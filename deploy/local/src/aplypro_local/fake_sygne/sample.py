"""Payload builders in SYGNE's shapes (imports.md §3.1) and a sample establishment with the awkward cases.

All people, INEs and UAIs are invented.
"""

from __future__ import annotations

from typing import Any

from aplypro_local.fake_sygne.state import FakeSygneState

UAI, YEAR = "0999001K", 2025
TLE, PREMIERE = "24731211331", "24731211321"  # 11 characters, as the API sends MEFs


def list_entry(ine: str, nom: str | None, prenom: str, birth: str, *, uai: str = UAI, year: int = YEAR,
               classe: str | None = "TLE PRO MELEC", mef: str = TLE, sexe: str = "2", statut: str = "ST",
               start: str = "2025-09-01", end: str | None = None, **overrides: Any) -> dict[str, Any]:
    """One element of `etablissements/{uai}/eleves`; `dateFinSco` only on a closed schooling."""
    entry: dict[str, Any] = {
        "ine": ine, "prenom": prenom, "nom": nom, "dateNaissance": birth, "codeSexe": sexe, "codeMef": mef,
        "codeMefRatt": mef, "classe": classe, "codeStatut": statut, "codeUai": uai,
        "anneeScolaire": str(year), "dateDebSco": start}
    if end is not None:
        entry["dateFinSco"] = end
    entry.update(overrides)
    return {k: v for k, v in entry.items() if v is not ...}  # `field=...` removes a field


def detail_of(entry: dict[str, Any], *, prenoms: tuple[str, ...] = (), lines: tuple[str, ...] = (),
              postal_code: str = "35000", city: str = "RENNES", city_insee: str = "35238",
              birth_city: str | None = "35238", birth_country: str = "100") -> dict[str, Any]:
    """`eleves/{ine}` for a listed student: usage name, up to three first names, birthplace and address."""
    first = prenoms or (entry.get("prenom"),)
    padded = [*first, None, None, None][:3]
    address = [*lines, None, None, None, None][:4]
    return {
        "ine": entry.get("ine"), "codeSexe": entry.get("codeSexe"), "prenom1": padded[0], "prenom2": padded[1],
        "prenom3": padded[2], "nomUsage": entry.get("nom"), "dateNaissance": entry.get("dateNaissance"),
        "inseeCommuneNaissance": birth_city, "inseePaysNaissance": birth_country,
        "adrResidenceEle": {"adresseLigne1": address[0], "adresseLigne2": address[1],
                            "adresseLigne3": address[2], "adresseLigne4": address[3], "codePostal": postal_code,
                            "libelleCommune": city, "codeCommuneInsee": city_insee, "codePays": "100"},
        "scolarite": {"classe": entry.get("classe"), "codeStatut": entry.get("codeStatut"),
                      "codeMefRatt": entry.get("codeMefRatt"), "codeUai": entry.get("codeUai")}}


def schooling(classe: str, *, uai: str = UAI, year: int = YEAR, mef: str = TLE, start: str = "2025-09-01",
              end: str | None = None, statut: str = "ST") -> dict[str, Any]:
    """One element of `eleves/{ine}/scolarites`."""
    return {"classe": classe, "anneeScolaire": str(year), "dateDebSco": start, "dateFinSco": end,
            "codeMef": mef, "codeMefRatt": mef, "codeUai": uai, "codeStatut": statut}


def sample_state(uai: str = UAI, year: int = YEAR) -> FakeSygneState:
    """One establishment: regular students, a leaver without class, an apprentice, an irrelevant MEF, a
    duplicate INE, a missing name, impossible dates, and an INE the detail does not know (404)."""
    state = FakeSygneState()
    chloe = list_entry("000111222AA", "FONTAINE", "Chloé", "2008-04-17", uai=uai, year=year)
    state.add_student(chloe, detail=detail_of(chloe, prenoms=("Chloé", "Anne"),
                                              lines=("12 rue des Tilleuls", "Bâtiment C")))
    mehdi = list_entry("000111223AB", "HADDAD", "Mehdi", "2007-11-02", sexe="1", uai=uai, year=year,
                       classe="1ERE PRO MELEC", mef=PREMIERE)
    state.add_student(mehdi, detail=detail_of(mehdi, lines=("8 rue Pasteur",)))
    ines = list_entry("000111226AE", "LEROY", "Inès", "2008-06-21", uai=uai, year=year, classe=None,
                      end="2025-12-19")
    state.add_student(ines, detail=detail_of(ines), history=[
        schooling("TLE PRO MELEC", uai=uai, year=year, end="2025-12-19")])
    apprentice = list_entry("000111227AF", "MARTIN", "Léo", "2007-03-09", sexe="1", statut="AP", uai=uai,
                            year=year)
    state.add_student(apprentice, detail=detail_of(apprentice))
    state.add_student(list_entry("000111228AG", "PETIT", "Sam", "2008-01-30", uai=uai, year=year,
                                 mef="99999999991"))  # not in the year's MEF list
    twin = list_entry("000111229AH", "ROUX", "Jade", "2008-05-05", uai=uai, year=year)
    state.add_student(twin, detail=detail_of(twin))
    state.add_student(dict(twin))  # the same INE listed twice
    state.add_student(list_entry("000111230AJ", None, "Noé", "2008-02-02", uai=uai, year=year))  # no name
    state.add_student(list_entry("000111231AK", "BLANC", "Lou", "2008-02-30", uai=uai, year=year))  # no such day
    state.add_student(list_entry("000111232AL", "NOIR", "Tom", "2008-03-03", uai=uai, year=year,
                                 start="2025-09-01", end="2025-08-01"))  # ends before it starts
    state.add_student(list_entry("000111233AM", "GRIS", "Eva", "2008-07-07", uai=uai, year=year))  # detail: 404
    return state
