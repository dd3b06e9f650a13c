"""FREGATA inscriptions into the students file's columns (imports.md §3.2, §4); the only place knowing its names.

The cells then go through the CSV's row normaliser (csv_students.parse_student_rows), so a FREGATA entry and
a CSV row of the same data give the same schooling record, checked by the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aplypro_students.adapters.sygne.normalise import text  # one reading of a JSON scalar for both APIs

YEAR_OFFSET = 1996  # anneeScolaireId 29 is 2025-2026
_SEX = {"1": "M", "2": "F"}  # 0 (and anything else) is unknown: never guessed
STUDENT, APPRENTICE = "2501", "2503"
OTHER = frozenset({"0000", "2502", "2504", "2505", "2506"})  # étudiant, adulte, distance, non scolarisé, VAE
_STATUS = {STUDENT: "scolaire", APPRENTICE: "apprenti", **dict.fromkeys(OTHER, "autre")}
_ISO_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})T[\d:.]+(Z|[+-]\d{2}:?\d{2})?")


def hosted_for_menj(entry: Mapping[str, Any]) -> bool:
    """`estEN: true`: a MENJ learner hosted by the agricultural school, SYGNE's to report: no student, no class.

    The text "true" counts too: importing a MENJ learner here would open a second, payable schooling.
    """
    flag = entry.get("estEN")
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


def status_code(entry: Mapping[str, Any]) -> str:
    status = entry.get("statutApprenant")
    return text(status.get("code")).strip() if isinstance(status, Mapping) else ""


def _obj(entry: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = entry.get(key)
    return value if isinstance(value, Mapping) else {}


def _date(value: Any) -> str:
    """A date as served; a date-time at midnight (some FREGATA versions) gives its date."""
    raw = text(value).strip()
    match = _ISO_DATETIME.fullmatch(raw)
    return match.group(1) if match else raw


def _year(section: Mapping[str, Any], asked: int) -> str:
    value = text(section.get("anneeScolaireId")).strip()
    return str(int(value) + YEAR_OFFSET) if value.isascii() and value.isdigit() else str(asked)


def priority_address(learner: Mapping[str, Any]) -> dict[str, str]:
    """The `estPrioritaire` address in our columns: lines 2-5 are the street lines, line 6 "postcode CITY".

    An all-blank one counts as none (the row normaliser then leaves the stored address unchanged).
    """
    entries = learner.get("adressesApprenant")
    chosen = next((e for e in entries if isinstance(e, Mapping) and e.get("estPrioritaire") is True), None) \
        if isinstance(entries, list) else None
    address = _obj(chosen, "adresseIndividu") if chosen is not None else {}
    lines = [t for t in (text(address.get(f"ligne{i}")).strip() for i in (2, 3, 4, 5)) if t]
    postal_code = text(address.get("communeCodePostal")).strip()
    cells = {f"adresse_ligne{i}": line for i, line in enumerate(lines, start=1)} | {
        "code_postal": postal_code, "commune_residence_insee": text(address.get("communeCodeInsee")).strip(),
        "commune_residence": city_name(text(address.get("ligne6")), postal_code),
        "pays_residence_insee": text(address.get("paysCodeInsee")).strip()}
    return cells if any(cells.values()) else {}


def city_name(line6: str, postal_code: str) -> str:
    """"35000 RENNES" → "RENNES": the postcode (the given one, else any leading 5 digits) is not the city."""
    line = " ".join(line6.split())
    if postal_code and line.startswith(postal_code):
        return line[len(postal_code):].strip()
    return re.sub(r"^\d{5}\s+", "", line)


def cells(entry: Mapping[str, Any], *, uai: str, school_year: int) -> dict[str, str]:
    """One inscription as a students-file row (§4). An unknown status code is passed as is: the row
    normaliser refuses it (`statut.value`), nothing is guessed."""
    learner = _obj(entry, "apprenant")
    section = _obj(entry, "sectionReference")
    code = status_code(entry)
    return {
        "uai": uai, "annee_scolaire": _year(section, school_year),
        "ine": text(learner.get("ine")).strip(), "nom": text(learner.get("nomUsuel")),
        "prenoms": text(learner.get("prenomUsuel")), "date_naissance": _date(learner.get("dateNaissance")),
        "sexe": _SEX.get(text(learner.get("sexeId")).strip(), ""),
        "commune_naissance_insee": text(learner.get("communeCodeInsee")).strip(),
        "pays_naissance_insee": text(learner.get("paysCodeInsee")).strip(),
        **priority_address(learner),
        "classe": text(_obj(entry, "division").get("libelle")), "code_mef": text(section.get("codeMef")).strip(),
        "statut": _STATUS.get(code, code), "date_debut": _date(entry.get("dateEntreeFormation")),
        # the training's end, else the establishment's (a leaver may have only the latter)
        "date_fin": _date(entry.get("dateSortieFormation")) or _date(entry.get("dateSortieEtablissement")),
    }
