"""Generates a small fictitious school as the CSV files the services import (all people are invented)."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from schwifty import IBAN

LAST_NAMES = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY",
              "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX"]
FIRST_NAMES = ["Léa", "Hugo", "Inès", "Lucas", "Chloé", "Nathan", "Manon", "Louis", "Jade", "Adam",
               "Emma", "Rayan", "Sarah", "Noah", "Camille", "Yanis", "Zoé", "Mehdi"]

UAI = "0999001K"
SCHOOL_YEAR = 2025

# (class label, MEF row): a bac pro terminale and première, and a CAP first year, all MENJ.
CLASSES = [
    ("TLE PRO MELEC", {"MEF": "2473121133", "DISPOSITIF_FORMATION": "247", "FORMATION_DIPLOME": "40025510",
                       "DUREE_DISPOSITIF": "3", "ANNEE_DISPOSITIF": "3",
                       "LIBELLE_LONG": "BAC PRO METIERS DE L'ELECTRICITE", "MINISTERE": "MENJ"}),
    ("1ERE PRO MELEC", {"MEF": "2473121132", "DISPOSITIF_FORMATION": "247", "FORMATION_DIPLOME": "40025510",
                        "DUREE_DISPOSITIF": "3", "ANNEE_DISPOSITIF": "2",
                        "LIBELLE_LONG": "BAC PRO METIERS DE L'ELECTRICITE", "MINISTERE": "MENJ"}),
    ("1CAP CUISINE", {"MEF": "2412540321", "DISPOSITIF_FORMATION": "241", "FORMATION_DIPLOME": "50022137",
                      "DUREE_DISPOSITIF": "2", "ANNEE_DISPOSITIF": "1", "LIBELLE_LONG": "CAP CUISINE",
                      "MINISTERE": "MENJ"}),
]


@dataclass(frozen=True)
class SchoolFiles:
    establishments: Path
    mefs: Path
    students: Path
    ribs: Path
    pfmps: Path
    student_count: int
    pfmp_count: int


def _ine(rng: random.Random, n: int) -> str:
    return f"{rng.randrange(10**8):08d}{n % 10}{chr(65 + n % 26)}{chr(65 + (n // 26) % 26)}"


def _write(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ";") -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def generate_school(folder: Path, students_per_class: int = 20, seed: int = 2025) -> SchoolFiles:
    """One establishment, three classes, `students_per_class` students each, with a RIB and 1–2 PFMPs."""
    rng = random.Random(seed)  # noqa: S311 - fictitious data, not security
    folder.mkdir(parents=True, exist_ok=True)
    establishments = _write(folder / "establishments.csv",
        ["uai", "name", "ministry", "academy_code", "contract_type_code", "address_line1", "postal_code",
         "city", "email", "phone", "head_name"],
        [[UAI, "Lycée professionnel Jean Jaurès", "MENJ", "14", "99", "1 rue de l'École", "35000", "RENNES",
          "ce.0999001k@ac-exemple.fr", "0299000000", "Mme Claire Dupont"]])
    mefs = _write(folder / "mefs.csv", list(CLASSES[0][1]), [list(m.values()) for _, m in CLASSES], ",")
    students, ribs, pfmps = [], [], []
    n = 0
    for label, mef in CLASSES:
        for _ in range(students_per_class):
            n += 1
            ine, last, first = _ine(rng, n), rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
            birth = date(2007, 1, 1) + timedelta(days=rng.randrange(3 * 365))
            students.append([f"{SCHOOL_YEAR}-{SCHOOL_YEAR + 1}", ine, last, first, birth.isoformat(),
                             rng.choice("FM"), "35238", "99100", f"{n} rue Pasteur", "35000", "35238", "RENNES",
                             "99100", label, mef["MEF"], "scolaire", f"{SCHOOL_YEAR}-09-01", ""])
            iban = IBAN.generate("FR", bank_code="30006", account_code=f"{n:011d}")
            ribs.append([UAI, ine, f"{last} {first}", "eleve", str(iban), "AGRIFRPP"])
            start = date(SCHOOL_YEAR, 11, 3) + timedelta(days=7 * rng.randrange(4))
            for k in range(1 + n % 2):  # every other student has a second PFMP in spring
                begin = start if k == 0 else date(SCHOOL_YEAR + 1, 3, 2)
                end = begin + timedelta(days=rng.randrange(11, 25))
                days = rng.randrange(5, (end - begin).days + 1)
                pfmps.append([ine, UAI, f"{SCHOOL_YEAR}-{SCHOOL_YEAR + 1}", begin.isoformat(), end.isoformat(),
                              str(days)])
    return SchoolFiles(
        establishments=establishments, mefs=mefs,
        students=_write(folder / "students.csv",
            ["annee_scolaire", "ine", "nom", "prenoms", "date_naissance", "sexe", "commune_naissance_insee",
             "pays_naissance_insee", "adresse_ligne1", "code_postal", "commune_residence_insee",
             "commune_residence", "pays_residence_insee", "classe", "code_mef", "statut", "date_debut",
             "date_fin"], students),
        ribs=_write(folder / "ribs.csv", ["uai", "ine", "titulaire", "type_titulaire", "iban", "bic"], ribs),
        pfmps=_write(folder / "pfmps.csv", ["ine", "uai", "annee_scolaire", "date_debut", "date_fin", "nb_jours"],
                     pfmps),
        student_count=n, pfmp_count=len(pfmps),
    )
