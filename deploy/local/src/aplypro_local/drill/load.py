"""The drill's load: N generated students of one school, two PFMPs each, fed through the service CLIs
the way schools do, with the accidents of real life: a PFMP file imported twice, rows duplicated inside
a file, and bad messages produced straight onto the input topics.

The generator knows the truth the checks compare with: the distinct PFMP periods (INE, start, end)
that must each be paid exactly once, and the multiset of bad messages injected.
"""

from __future__ import annotations

import csv
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from aplypro_contracts.catalog import CATALOG
from aplypro_contracts.topics import PFMP_EVENTS, STUDENTS_EVENTS
from schwifty import IBAN

from aplypro_local.school import CLASSES, FIRST_NAMES, LAST_NAMES, SCHOOL_YEAR, UAI, generate_school

Period = tuple[str, date, date]  # (INE, first day, last day): a PFMP's natural identity

# Which services' consumers read each input topic (the contracts' catalog): every one of them dead-letters
# an undecodable message, so one injected message gives one dead letter per reader.
READERS = {t.name: t.readers for t in CATALOG if t.name in (STUDENTS_EVENTS, PFMP_EVENTS)}
POISON = [b"\xff\xfe not even utf-8", b"{broken json", b"[1, 2, 3]",
          b'{"event_type": "Teleported", "schema_version": 1}']


def _violation(event_type: str, version: int) -> bytes:
    """A known event type and version with its required fields missing: a schema violation."""
    return (f'{{"event_type": "{event_type}", "schema_version": {version}, '
            f'"event_id": "{uuid.uuid4()}", "producer": "drill"}}').encode()


@dataclass
class Load:
    folder: Path
    students: int
    periods: set[Period] = field(default_factory=set)
    pfmp_files: list[Path] = field(default_factory=list)  # in import order, re-imports included
    duplicated_rows: int = 0
    injected: Counter[tuple[str, bytes]] = field(default_factory=Counter)  # (source topic, body)
    # Paid PFMPs a school corrects afterwards (one more day): each must then be paid its difference once.
    rectifications: dict[Period, int] = field(default_factory=dict)  # period -> new day count

    def expected_dead_letters(self) -> Counter[tuple[str, str, bytes]]:
        """(source topic, service, body) for every reader of every injected message."""
        return Counter({(topic, service, body): n for (topic, body), n in self.injected.items()
                        for service in READERS[topic]})


def _ine(n: int) -> str:
    return f"{n:09d}{chr(65 + n % 26)}{chr(65 + (n // 26) % 26)}"


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)
    return path


STUDENT_HEADER = ["annee_scolaire", "ine", "nom", "prenoms", "date_naissance", "sexe", "commune_naissance_insee",
                  "pays_naissance_insee", "adresse_ligne1", "code_postal", "commune_residence_insee",
                  "commune_residence", "pays_residence_insee", "classe", "code_mef", "statut", "date_debut",
                  "date_fin"]
PFMP_HEADER = ["ine", "uai", "annee_scolaire", "date_debut", "date_fin", "nb_jours"]


def generate(folder: Path, students: int, seed: int = 9, accidents: bool = True) -> tuple[Load, Path, Path, Path, Path]:
    """The CSV files: establishments, MEFs, students, RIBs, and the PFMP files in import order.

    Two PFMPs a student (autumn and spring; ≤ 12 days each, under every cap): the PFMPs are split into
    two files, the second holds 5 % of its rows twice, and the first is imported again at the end.
    Without `accidents` (a baseline of the checks), no row twice and no re-import: the second import of
    file 1 is replaced by an import of an empty file.
    """
    rng = random.Random(seed)  # noqa: S311 - fictitious data, not security
    folder.mkdir(parents=True, exist_ok=True)
    reference = generate_school(folder / "reference", 1)  # only its establishments and MEFs files
    load = Load(folder, students)
    year = f"{SCHOOL_YEAR}-{SCHOOL_YEAR + 1}"
    student_rows, rib_rows, pfmp_rows = [], [], []
    identities: set[tuple[str, str, date]] = set()
    for n in range(1, students + 1):
        label, mef = CLASSES[n % len(CLASSES)]
        ine = _ine(n)
        # Distinct people: the ASP knows an individual by name, first name and birth date, and with our short
        # name lists 20,000 draws give ~500 namesakes born the same day (a real school has a few at most).
        while (identity := (rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES),
                            date(2007, 1, 1) + timedelta(days=rng.randrange(3 * 365)))) in identities:
            pass
        identities.add(identity)
        last, first, birth = identity
        student_rows.append([year, ine, last, first, birth.isoformat(), rng.choice("FM"), "35238", "99100",
                             f"{n} rue Pasteur", "35000", "35238", "RENNES", "99100", label, mef["MEF"], "scolaire",
                             f"{SCHOOL_YEAR}-09-01", ""])
        iban = IBAN.generate("FR", bank_code="30006", account_code=f"{n:011d}")
        rib_rows.append([UAI, ine, f"{last} {first}", "eleve", str(iban), "AGRIFRPP"])
        for begin in (date(SCHOOL_YEAR, 11, 3) + timedelta(days=7 * rng.randrange(4)), date(SCHOOL_YEAR + 1, 3, 2)):
            end = begin + timedelta(days=rng.randrange(11, 18))
            pfmp_rows.append([ine, UAI, year, begin.isoformat(), end.isoformat(), str(rng.randrange(5, 13))])
            load.periods.add((ine, begin, end))
    students_csv = _write(folder / "students.csv", STUDENT_HEADER, student_rows)
    ribs_csv = _write(folder / "ribs.csv", ["uai", "ine", "titulaire", "type_titulaire", "iban", "bic"], rib_rows)
    if accidents:
        load.rectifications = _rectifications(pfmp_rows, students)
    rng.shuffle(pfmp_rows)
    half = len(pfmp_rows) // 2
    first_file = _write(folder / "pfmps-1.csv", PFMP_HEADER, pfmp_rows[:half])
    second = pfmp_rows[half:]
    twice = second[: max(1, len(second) // 20)] if accidents else []
    load.duplicated_rows = len(twice)
    second_file = _write(folder / "pfmps-2.csv", PFMP_HEADER, second + twice)
    again = first_file if accidents else _write(folder / "pfmps-none.csv", PFMP_HEADER, [])
    load.pfmp_files = [first_file, second_file, again]
    return load, reference.establishments, reference.mefs, students_csv, ribs_csv


RECTIFIED_AT_MOST = 50  # each is one `aplypro-pfmp edit`, as a school corrects a PFMP: a few are enough


def _rectifications(pfmp_rows: list[list[str]], students: int) -> dict[Period, int]:
    """Every 20th student's first PFMP, one day more (never beyond its calendar days), at most 50."""
    chosen: dict[Period, int] = {}
    for ine, _, _, begin, end, days in pfmp_rows[::40]:  # two rows a student, in student order
        first, last = date.fromisoformat(begin), date.fromisoformat(end)
        if int(days) < (last - first).days + 1 and len(chosen) < min(RECTIFIED_AT_MOST, max(1, students // 20)):
            chosen[(ine, first, last)] = int(days) + 1
    return chosen


def bad_messages(load: Load, namespace: str) -> dict[str, list[bytes]]:
    """The bad messages to produce, by (namespaced) topic; recorded in `load.injected` un-namespaced."""
    out: dict[str, list[bytes]] = {}
    violations = {"aplypro.students.events": [_violation("SchoolingOpened", 2), _violation("StudentRegistered", 1)],
                  "aplypro.pfmp.events": [_violation("PfmpValidated", 2), _violation("PfmpRecorded", 2)]}
    for topic in READERS:
        bodies = [*POISON, *violations[topic], POISON[1]]  # one body twice: a multiset, not a set
        out[namespace + topic] = bodies
        load.injected.update((topic, body) for body in bodies)
    return out
