"""The national population of `bench/national.py`: establishments, classes, students and PFMPs, generated from a
seed (documents.md §9, imports.md §9, features.md §5). All people, INEs, UAIs and accounts are invented.

- E establishments (default N / 225, ≈ 2,900 at 650,000): MENJ public and private, MASA, MER, in the
  proportions below; each holds a share of the N students, never fewer than one class.
- Classes of 12 to 35 students, each on one MEF of its establishment's ministry, drawn from `MEF_MIX` (the
  barème families the calculator prices: bac pro and CAP years of MENJ, MASA's bac pro and CAPA, MER's).
- 1 to 3 PFMPs a student (2 on average), in three non-overlapping windows of the 2025-2026 year, at most
  20 days in all: under the lowest yearly cap (MER 2025: 10 € × 20 days), so every PFMP is paid its amount.

The same (students, establishments, seed) always gives the same population: the fake SYGNE's process and
the bench regenerate it on their side instead of shipping it between processes.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from students_import import uai_of  # the import bench's UAI range (bench/ is on sys.path when run)

YEAR = 2025  # school year 2025-2026: every PFMP has ended whatever the day the bench runs
STUDENTS_PER_ESTABLISHMENT = 225  # imports.md §9: 650,000 students in about 2,900 establishments
CLASS_MIN, CLASS_MAX = 12, 35  # documents.md §9
DAYS_PER_STUDENT = 20  # the lowest cap's days (MER, BACM-2: 200 € at 10 €/day)


@dataclass(frozen=True)
class MefRow:
    """One BCN row (the columns `aplypro-students load-mefs` reads) and its share of the ministry's classes."""

    code: str  # 11 characters, as SYGNE sends them
    dispositif: str
    diploma: str
    duration: int
    year: int
    short: str
    label: str
    ministry: str
    weight: float


def _mef(n: int, dispositif: str, diploma: str, duration: int, year: int, short: str, label: str, ministry: str,
         weight: float) -> MefRow:
    return MefRow(f"{dispositif}{n:05d}{duration}{year}1", dispositif, diploma, duration, year, short, label,
                  ministry, weight)


# Weights within a ministry, after the national shape: bac pro three quarters, CAP a quarter (features.md §5).
MEF_MIX: tuple[MefRow, ...] = (
    _mef(1, "247", "40025510", 3, 1, "2NDPRO", "BAC PRO METIERS DE L'ELECTRICITE", "MENJ", 12),
    _mef(2, "247", "40025510", 3, 2, "1ERPRO", "BAC PRO METIERS DE L'ELECTRICITE", "MENJ", 11),
    _mef(3, "247", "40025510", 3, 3, "TLEPRO", "BAC PRO METIERS DE L'ELECTRICITE", "MENJ", 10),
    _mef(4, "247", "40031213", 3, 1, "2NDPRO", "BAC PRO COMMERCE", "MENJ", 12),
    _mef(5, "247", "40031213", 3, 2, "1ERPRO", "BAC PRO COMMERCE", "MENJ", 11),
    _mef(6, "247", "40031213", 3, 3, "TLEPRO", "BAC PRO COMMERCE", "MENJ", 10),
    _mef(7, "241", "50022137", 2, 1, "1CAP2", "CAP CUISINE", "MENJ", 9),
    _mef(8, "241", "50022137", 2, 2, "2CAP2", "CAP CUISINE", "MENJ", 8),
    _mef(9, "240", "50025411", 1, 1, "1CAP1", "CAP ELECTRICIEN (EN 1 AN)", "MENJ", 1),
    _mef(10, "242", "50022137", 3, 2, "2CAP3", "CAP CUISINE (EN 3 ANS)", "MENJ", 1),
    _mef(11, "242", "50022137", 3, 3, "3CAP3", "CAP CUISINE (EN 3 ANS)", "MENJ", 1),
    _mef(12, "276", "40321004", 3, 1, "2NDPRO", "BAC PRO AGROEQUIPEMENT", "MASA", 3),
    _mef(13, "276", "40321004", 3, 2, "1ERPRO", "BAC PRO AGROEQUIPEMENT", "MASA", 3),
    _mef(14, "276", "40321004", 3, 3, "TLEPRO", "BAC PRO AGROEQUIPEMENT", "MASA", 3),
    _mef(15, "271", "50325001", 2, 1, "1CAPA2", "CAPA JARDINIER PAYSAGISTE", "MASA", 1),
    _mef(16, "271", "50325001", 2, 2, "2CAPA2", "CAPA JARDINIER PAYSAGISTE", "MASA", 1),
    _mef(17, "247", "40021205", 3, 1, "2NDPRO", "BAC PRO CONDUITE ET GESTION DES ENTREPRISES MARITIMES", "MER", 3),
    _mef(18, "247", "40021205", 3, 2, "1ERPRO", "BAC PRO CONDUITE ET GESTION DES ENTREPRISES MARITIMES", "MER", 3),
    _mef(19, "247", "40021205", 3, 3, "TLEPRO", "BAC PRO CONDUITE ET GESTION DES ENTREPRISES MARITIMES", "MER", 3),
    _mef(20, "241", "50021201", 2, 1, "1CAP2", "CAP MATELOT", "MER", 1),
    _mef(21, "241", "50021201", 2, 2, "2CAP2", "CAP MATELOT", "MER", 1),
)

# (ministry, contract type code, share of establishments): 99 public, 30 private under contract (ENPR).
KINDS = (("MENJ", "99", 0.76), ("MENJ", "30", 0.16), ("MASA", "99", 0.07), ("MER", "99", 0.01))
ACADEMIES = ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17",
             "18", "19", "20", "21", "22", "23", "24", "25", "27", "28", "31", "32", "33", "40", "41", "43", "44", "70")
# Three non-overlapping windows (first Monday, last Monday a PFMP may start) of the school year.
WINDOWS = ((date(YEAR, 10, 6), date(YEAR, 11, 24)), (date(YEAR + 1, 1, 5), date(YEAR + 1, 2, 23)),
           (date(YEAR + 1, 3, 30), date(YEAR + 1, 5, 11)))


class PopulationTooSmall(ValueError):
    code = "population_too_small"


@dataclass(frozen=True)
class School:
    uai: str
    ministry: str
    contract: str
    academy: str


@dataclass(frozen=True)
class Klass:
    uai: str
    label: str
    mef: MefRow
    size: int


@dataclass(frozen=True)
class Student:
    ine: str
    uai: str
    klass: str
    mef: str  # code
    sexe: str  # SYGNE's code: 1 or 2
    birth: date


@dataclass(frozen=True)
class Pfmp:
    ine: str
    uai: str
    start: date
    end: date
    days: int


@dataclass
class Population:
    schools: list[School]
    classes: list[Klass]
    students: list[Student]
    pfmps: list[Pfmp]


def default_establishments(students: int) -> int:
    return max(1, round(students / STUDENTS_PER_ESTABLISHMENT))


def ine_of(n: int) -> str:
    return f"{n:09d}{chr(65 + n % 26)}{chr(65 + (n // 26) % 26)}"


def name_of(student: Student) -> tuple[str, str]:
    """(name, first name): unique per student, so the ASP never takes two for one individual."""
    return f"NOM{student.ine[:9]}", "Prenom"


def _shares(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` split into `parts` uneven shares, each at least CLASS_MIN (one class)."""
    if total < parts * CLASS_MIN:
        raise PopulationTooSmall(f"{total} students cannot fill {parts} establishments of at least {CLASS_MIN}")
    weights = [rng.uniform(0.4, 1.6) for _ in range(parts)]
    spare = total - parts * CLASS_MIN
    shares = [CLASS_MIN + math.floor(spare * w / sum(weights)) for w in weights]
    for i in range(total - sum(shares)):  # the rounding's leftovers, one each
        shares[i % parts] += 1
    return shares


def class_sizes(rng: random.Random, students: int) -> list[int]:
    """`students` (≥ CLASS_MIN) in classes of CLASS_MIN to CLASS_MAX, about 24 on average."""
    low, high = math.ceil(students / CLASS_MAX), students // CLASS_MIN
    count = min(high, max(low, round(students / rng.uniform(20, 28))))
    sizes = [students // count + (i < students % count) for i in range(count)]
    for _ in range(count):  # uneven classes: move a few students between two, within the bounds
        i, j = rng.randrange(count), rng.randrange(count)
        moved = rng.randint(0, 6)
        if i != j and sizes[i] - moved >= CLASS_MIN and sizes[j] + moved <= CLASS_MAX:
            sizes[i], sizes[j] = sizes[i] - moved, sizes[j] + moved
    return sizes


def _kind(rng: random.Random) -> tuple[str, str]:
    ministry, contract, _ = rng.choices(KINDS, weights=[k[2] for k in KINDS])[0]
    return ministry, contract


def _pfmps(rng: random.Random, student: Student) -> Iterator[Pfmp]:
    count = rng.choices((1, 2, 3), weights=(1, 2, 1))[0]  # 2 on average
    for first, last in sorted(rng.sample(WINDOWS, count)):
        start = first + timedelta(weeks=rng.randrange((last - first).days // 7 + 1))
        weeks = rng.randint(2, 4)
        end = start + timedelta(weeks=weeks, days=-3)  # Monday to Friday
        yield Pfmp(student.ine, student.uai, start, end, rng.randint(3, min(5 * weeks, DAYS_PER_STUDENT // count)))


def generate(students: int, establishments: int | None = None, seed: int = 2025) -> Population:
    rng = random.Random(seed)  # fictitious data, not security
    count = establishments or default_establishments(students)
    population = Population([], [], [], [])
    n = 0
    for e, share in enumerate(_shares(rng, students, count)):
        ministry, contract = _kind(rng)
        school = School(uai_of(e), ministry, contract, rng.choice(ACADEMIES))
        population.schools.append(school)
        mefs = [m for m in MEF_MIX if m.ministry == ministry]
        for c, size in enumerate(class_sizes(rng, share)):
            mef = rng.choices(mefs, weights=[m.weight for m in mefs])[0]
            klass = Klass(school.uai, f"{mef.short} {c + 1}", mef, size)
            population.classes.append(klass)
            for _ in range(size):
                n += 1
                age = 15 + mef.year + rng.randint(0, 1)
                student = Student(ine_of(n), school.uai, klass.label, mef.code, "12"[n % 2],
                                  date(YEAR - age, 1, 1) + timedelta(days=rng.randrange(365)))
                population.students.append(student)
                population.pfmps.extend(_pfmps(rng, student))
    return population


def _write(path: Path, header: list[str], rows: Iterator[list[str]], delimiter: str = ";") -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@dataclass(frozen=True)
class PopulationFiles:
    establishments: Path
    mefs: Path
    ribs: Path
    pfmps: Path


def write_files(population: Population, folder: Path) -> PopulationFiles:
    """The files the services' CLIs import: establishments, the year's MEFs (BCN), RIBs and PFMPs."""
    from schwifty import IBAN

    folder.mkdir(parents=True, exist_ok=True)
    year = f"{YEAR}-{YEAR + 1}"
    return PopulationFiles(
        establishments=_write(folder / "establishments.csv",
                              ["uai", "name", "ministry", "academy_code", "contract_type_code"],
                              ([s.uai, f"Lycée {s.uai}", s.ministry, s.academy, s.contract]
                               for s in population.schools)),
        mefs=_write(folder / "mefs.csv", ["MEF", "DISPOSITIF_FORMATION", "FORMATION_DIPLOME", "DUREE_DISPOSITIF",
                                          "ANNEE_DISPOSITIF", "LIBELLE_COURT", "LIBELLE_LONG", "MINISTERE",
                                          "DATE_OUVERTURE"],
                    ([m.code, m.dispositif, m.diploma, str(m.duration), str(m.year), m.short, m.label, m.ministry,
                      "01/09/2019"] for m in MEF_MIX), ","),
        ribs=_write(folder / "ribs.csv", ["uai", "ine", "titulaire", "type_titulaire", "iban", "bic"],
                    ([s.uai, s.ine, " ".join(name_of(s)), "eleve",
                      str(IBAN.generate("FR", bank_code="30006", account_code=f"{i:011d}")), "AGRIFRPP"]
                     for i, s in enumerate(population.students, 1))),
        pfmps=_write(folder / "pfmps.csv", ["ine", "uai", "annee_scolaire", "date_debut", "date_fin", "nb_jours"],
                     ([p.ine, p.uai, year, p.start.isoformat(), p.end.isoformat(), str(p.days)]
                      for p in population.pfmps)),
    )
