"""SYGNE payloads into the students file's columns (imports.md §4); the only place that knows SYGNE's names.

The cells then go through the same row normaliser as a CSV file (csv_students.parse_student_rows), so a
SYGNE record and a CSV row of the same data give the same schooling record, checked by the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from aplypro_students.adapters.csv_reader import CellError, parse_date
from aplypro_students.domain.model import Identity

_SEX = {"1": "M", "2": "F"}  # anything else (0, blank, missing) is unknown: never guessed as male
_STATUS = {"ST": "scolaire", "AP": "apprenti", "FQ": "autre"}  # AP/FQ are legacy: only ST is requested
_ADDRESS = {"adresseLigne1": "adresse_ligne1", "adresseLigne2": "adresse_ligne2",
            "adresseLigne3": "adresse_ligne3", "adresseLigne4": "adresse_ligne4", "codePostal": "code_postal",
            "codeCommuneInsee": "commune_residence_insee", "libelleCommune": "commune_residence",
            "codePays": "pays_residence_insee"}


def text(value: Any) -> str:
    """A scalar as text; null, objects and arrays count as missing (the row normaliser then says which)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value)


def _mef(entry: Mapping[str, Any]) -> str:
    return text(entry.get("codeMefRatt")) or text(entry.get("codeMef"))  # the attached MEF first (§4)


def list_cells(entry: Mapping[str, Any]) -> dict[str, str]:
    """One element of the establishment list: identity without address or birthplace, and its schooling."""
    status = text(entry.get("codeStatut")).upper()
    return {
        "uai": text(entry.get("codeUai")), "annee_scolaire": text(entry.get("anneeScolaire")),
        "ine": text(entry.get("ine")).strip(), "nom": text(entry.get("nom")), "prenoms": text(entry.get("prenom")),
        "date_naissance": text(entry.get("dateNaissance")), "sexe": _SEX.get(text(entry.get("codeSexe")), ""),
        "classe": text(entry.get("classe")), "code_mef": _mef(entry), "statut": _STATUS.get(status, status),
        "date_debut": text(entry.get("dateDebSco")), "date_fin": text(entry.get("dateFinSco")),
    }


def identity_key_cells(cells: Mapping[str, str]) -> tuple[str, str, date] | None:
    """(last name, first first name, birth date) of a row, what identity matching keys on; None if one is missing
    or malformed (the row normaliser refuses such a row anyway)."""
    first = cells["prenoms"].split(",")[0].strip()
    if not cells["nom"].strip() or not first:
        return None
    try:
        return cells["nom"], first, parse_date(cells["date_naissance"].strip())
    except CellError:
        return None


def with_detail(cells: dict[str, str], detail: Mapping[str, Any]) -> dict[str, str]:
    """The detail's identity (usage name, up to three first names), birthplace and residence address."""
    out = dict(cells)
    first_names = [text(detail.get(f"prenom{i}")) for i in (1, 2, 3)]
    if any(first_names):
        out["prenoms"] = ",".join(n for n in first_names if n)
    if text(detail.get("nomUsage")):
        out["nom"] = text(detail["nomUsage"])
    out["commune_naissance_insee"] = text(detail.get("inseeCommuneNaissance"))
    out["pays_naissance_insee"] = text(detail.get("inseePaysNaissance"))
    address = detail.get("adrResidenceEle")
    if isinstance(address, Mapping):
        out |= {column: text(address.get(name)) for name, column in _ADDRESS.items()}
    return out


def with_known_first_names(cells: dict[str, str], known: Identity) -> dict[str, str]:
    """The list gives one first name: when it is the stored first one, the stored others still hold.

    Without this, every nightly list would drop the second and third first names the detail gave.
    """
    if cells["prenoms"] and known.first_names and cells["prenoms"].strip() == known.first_names[0]:
        return {**cells, "prenoms": ",".join(known.first_names)}
    return cells


def with_history(cells: dict[str, str], history: list[dict[str, Any]], *, uai: str, school_year: int,
                 ) -> dict[str, str]:
    """A leaver listed without a class (`classe: null`): its class, MEF and real dates from the history.

    Matched by establishment and school year; none found leaves the class empty (reported as missing).
    """
    mine = [s for s in history if text(s.get("codeUai")).upper() == uai
            and text(s.get("anneeScolaire")) == str(school_year) and text(s.get("classe"))]
    if not mine:
        return cells
    latest = max(mine, key=lambda s: text(s.get("dateDebSco")))
    return {**cells, "classe": text(latest.get("classe")), "code_mef": _mef(latest) or cells["code_mef"],
            "date_debut": text(latest.get("dateDebSco")) or cells["date_debut"],
            "date_fin": text(latest.get("dateFinSco")) or cells["date_fin"]}
