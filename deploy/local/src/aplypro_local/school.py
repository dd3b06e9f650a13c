"""Generates a small fictitious school as the CSV files the services import (all people are invented).

Most students are paid. A few are not, each for one reason of lifecycles.md §4 that the pipeline decides
on its own from honest data (`Planted`): the demo and the end-to-end test count them per reason.
"""

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
SYGNE_UAI = "0999003M"  # a second school whose students the demo imports from the fake SYGNE (sample.py)
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
# A CAP in three years, first year: it opens no allowance (calculation.md §2.3, no barème), so no DA is
# ever issued for its students. The school's last student follows it on an individual pathway.
NO_ALLOWANCE_CLASS = ("1CAP3 CUISINE", {
    "MEF": "2422540311", "DISPOSITIF_FORMATION": "242", "FORMATION_DIPLOME": "50022137", "DUREE_DISPOSITIF": "3",
    "ANNEE_DISPOSITIF": "1", "LIBELLE_LONG": "CAP CUISINE (EN 3 ANS)", "MINISTERE": "MENJ"})


@dataclass(frozen=True)
class Planted:
    """The students who are not paid, by the reason the pipeline gives (INEs: kept in memory, never logged)."""

    outside_schooling_dates: str  # schooling ended on 31 October; the November PFMP is outside it
    adult_wrong_owner_type: str  # 18 before the PFMP; the account is a parent's
    missing_attributive_decision: str  # in the no-allowance class: no DA, the PFMP is refused at validation
    overlaps: str  # the school sends the first PFMP again, shifted by two days: refused when recorded


@dataclass(frozen=True)
class SchoolFiles:
    establishments: Path
    mefs: Path
    students: Path
    ribs: Path
    pfmps: Path
    late_pfmps: Path  # a second PFMP file, sent after the first: one row overlapping a recorded PFMP
    student_count: int
    pfmp_count: int
    decision_count: int  # students whose class opens the allowance: each gets a DA
    priced_pfmp_count: int  # their PFMPs: the calculator prices them
    planted: Planted | None  # None below MIN_STUDENTS_TO_PLANT students

    def reference_commands(self) -> list[list[str]]:
        """The students service's reference data, loaded before any student (demo, `aplypro up`): the
        establishments, the MEFs, and the academic calendar's shipped sample (imports.md §6.3), which bounds
        the school years the imports and the inbound date checks use."""
        return [["aplypro-students", "load-establishments", str(self.establishments)],
                ["aplypro-students", "load-mefs", str(self.mefs), "--school-year", str(SCHOOL_YEAR)],
                ["aplypro-students", "load-calendar"]]


def _ine(rng: random.Random, n: int) -> str:
    return f"{rng.randrange(10**8):08d}{n % 10}{chr(65 + n % 26)}{chr(65 + (n // 26) % 26)}"


def _write(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ";") -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# Who is planted, by rank in the school (1-based): three of the first class, the school's last student.
OUTSIDE_DATES, OVERLAP, ADULT = 2, 3, 4
MIN_STUDENTS_TO_PLANT = 5


def generate_school(folder: Path, students_per_class: int = 20, seed: int = 2025) -> SchoolFiles:
    """One establishment, three classes, `students_per_class` students each, with a RIB and 1–2 PFMPs.

    From 5 students on, four are planted to be blocked (`Planted`); the random draws stay the same, so every
    other student is exactly the one an earlier version generated.
    """
    rng = random.Random(seed)  # noqa: S311 - fictitious data, not security
    folder.mkdir(parents=True, exist_ok=True)
    establishments = _write(folder / "establishments.csv",
        ["uai", "name", "ministry", "academy_code", "contract_type_code", "address_line1", "postal_code",
         "city", "email", "phone", "head_name"],
        [[UAI, "Lycée professionnel Jean Jaurès", "MENJ", "14", "99", "1 rue de l'École", "35000", "RENNES",
          "ce.0999001k@ac-exemple.fr", "0299000000", "Mme Claire Dupont"],
         [SYGNE_UAI, "Lycée professionnel Simone Veil", "MENJ", "14", "99", "3 avenue de la Gare", "35000",
          "RENNES", "ce.0999003m@ac-exemple.fr", "0299000001", "M. Paul Martin"]])
    mefs = _write(folder / "mefs.csv", list(CLASSES[0][1]),
                  [list(m.values()) for _, m in [*CLASSES, NO_ALLOWANCE_CLASS]], ",")
    students, ribs, pfmps, late = [], [], [], []
    total = len(CLASSES) * students_per_class
    plant = total >= MIN_STUDENTS_TO_PLANT
    ines: dict[int, str] = {}
    identities: set[tuple[str, str, date]] = set()
    n = 0
    for label, mef in CLASSES:
        for _ in range(students_per_class):
            n += 1
            ine, last, first = _ine(rng, n), rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
            ines[n] = ine
            birth = date(2007, 1, 1) + timedelta(days=rng.randrange(3 * 365))
            end, owner, holder, (klass, mef_code) = "", "eleve", f"{last} {first}", (label, mef["MEF"])
            if plant and n == OUTSIDE_DATES:
                end = f"{SCHOOL_YEAR}-10-31"  # left in October: the November PFMP lies outside the schooling
            if plant and n == ADULT:
                # 18 in May 2025, so an adult on the PFMP's first day, paid on a parent's account.
                birth, owner, holder = date(2007, 5, 14), "representant_ou_tiers", f"{last} Nathalie"
            if plant and n == total:
                klass, mef_code = NO_ALLOWANCE_CLASS[0], NO_ALLOWANCE_CLASS[1]["MEF"]
            # Distinct people: the ASP takes one name, first name and birth date for one individual (§10), so two
            # generated homonyms born the same day would be merged there. A day later, no new draw.
            while (last, first, birth) in identities:
                birth += timedelta(days=1)
            identities.add((last, first, birth))
            students.append([f"{SCHOOL_YEAR}-{SCHOOL_YEAR + 1}", ine, last, first, birth.isoformat(),
                             rng.choice("FM"), "35238", "99100", f"{n} rue Pasteur", "35000", "35238", "RENNES",
                             "99100", klass, mef_code, "scolaire", f"{SCHOOL_YEAR}-09-01", end])
            iban = IBAN.generate("FR", bank_code="30006", account_code=f"{n:011d}")
            ribs.append([UAI, ine, holder, owner, str(iban), "AGRIFRPP"])
            start = date(SCHOOL_YEAR, 11, 3) + timedelta(days=7 * rng.randrange(4))
            for k in range(1 + n % 2):  # every other student has a second PFMP in spring
                begin = start if k == 0 else date(SCHOOL_YEAR + 1, 3, 2)
                finish = begin + timedelta(days=rng.randrange(11, 25))
                days = rng.randrange(5, (finish - begin).days + 1)
                pfmps.append([ine, UAI, f"{SCHOOL_YEAR}-{SCHOOL_YEAR + 1}", begin.isoformat(), finish.isoformat(),
                              str(days)])
                if plant and n == OVERLAP and k == 0:
                    # Sent again later with both dates two days on: it shares days with the one recorded.
                    shifted = [(begin + timedelta(days=2)).isoformat(), (finish + timedelta(days=2)).isoformat()]
                    late.append([ine, UAI, f"{SCHOOL_YEAR}-{SCHOOL_YEAR + 1}", *shifted, str(days)])
    header = ["ine", "uai", "annee_scolaire", "date_debut", "date_fin", "nb_jours"]
    return SchoolFiles(
        establishments=establishments, mefs=mefs,
        students=_write(folder / "students.csv",
            ["annee_scolaire", "ine", "nom", "prenoms", "date_naissance", "sexe", "commune_naissance_insee",
             "pays_naissance_insee", "adresse_ligne1", "code_postal", "commune_residence_insee",
             "commune_residence", "pays_residence_insee", "classe", "code_mef", "statut", "date_debut",
             "date_fin"], students),
        ribs=_write(folder / "ribs.csv", ["uai", "ine", "titulaire", "type_titulaire", "iban", "bic"], ribs),
        pfmps=_write(folder / "pfmps.csv", header, pfmps),
        late_pfmps=_write(folder / "pfmps_late.csv", header, late),
        student_count=n, pfmp_count=len(pfmps), decision_count=n - 1 if plant else n,
        priced_pfmp_count=len([row for row in pfmps if not plant or row[0] != ines[total]]),
        planted=Planted(outside_schooling_dates=ines[OUTSIDE_DATES], adult_wrong_owner_type=ines[ADULT],
                        missing_attributive_decision=ines[total], overlaps=ines[OVERLAP]) if plant else None,
    )
