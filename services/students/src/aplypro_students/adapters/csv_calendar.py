"""Reads the open-data school calendar (`fr-en-calendrier-scolaire`, imports.md §6.3): each academy's summers.

The export is `;`-separated, its header either the dataset's labels (`Description;Population;Date de
début;Date de fin;Académies;Zones;annee_scolaire`) or its field names (`description;population;start_date;
end_date;location;zones;annee_scolaire`); other columns are ignored. Kept rows: a `location` naming an
academy (by its label, accents and case aside), `population` `Élèves` or `-` (not `Enseignants`), and the
holidays that separate two school years: `Vacances d'Été`, or `Vacances d'Hiver austral` for La Réunion.
Dates are `YYYY-MM-DD` or the export's date-times (`2025-08-31T22:00:00+00:00`), read as Paris days.
Any refused kept row refuses the file, reported (line, column, reason): reference data, no personal data.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aplypro_students.adapters.csv_reader import CellError, RowParser, parse_school_year, read_rows
from aplypro_students.domain.calendar import Summer
from aplypro_students.domain.report import InvalidFile, RowError

SAMPLE = Path(__file__).resolve().parent.parent / "reference" / "calendrier_scolaire_sample.csv"
PARIS = ZoneInfo("Europe/Paris")  # the export's time zone: its midnights are Paris midnights
# our column → the header names the export may use (labels, or the API's field names), lower-cased
COLUMNS = {
    "description": ("description",), "population": ("population",),
    "start": ("date de début", "start_date"), "end": ("date de fin", "end_date"),
    "location": ("académies", "location"), "annee_scolaire": ("annee_scolaire", "année scolaire"),
}
# academy code (imports.md §6.1) → the labels the calendar names it by; Normandie covers Caen and Rouen
ACADEMY_LABELS = {
    "01": ("Paris",), "02": ("Aix-Marseille",), "03": ("Besançon",), "04": ("Bordeaux",),
    "05": ("Caen", "Normandie"), "06": ("Clermont-Ferrand",), "07": ("Dijon",), "08": ("Grenoble",),
    "09": ("Lille",), "10": ("Lyon",), "11": ("Montpellier",), "12": ("Nancy-Metz",), "13": ("Poitiers",),
    "14": ("Rennes",), "15": ("Strasbourg",), "16": ("Toulouse",), "17": ("Nantes",), "18": ("Orléans-Tours",),
    "19": ("Reims",), "20": ("Amiens",), "21": ("Rouen", "Normandie"), "22": ("Limoges",), "23": ("Nice",),
    "24": ("Créteil",), "25": ("Versailles",), "27": ("Corse",), "28": ("La Réunion",), "31": ("Martinique",),
    "32": ("Guadeloupe",), "33": ("Guyane",), "40": ("Nouvelle-Calédonie",), "41": ("Polynésie française",),
    "43": ("Mayotte",), "44": ("Saint-Pierre-et-Miquelon",), "70": ("Normandie",),
}
PUPILS = {"ELEVES", ""}  # "" is also "-": the row applies to everyone
SUMMER, AUSTRAL_WINTER = "VACANCES D ETE", "VACANCES D HIVER AUSTRAL"


def key(text: str) -> str:
    """Upper case, no accents, punctuation as spaces, no leading article: how labels are compared."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()
    words = re.sub(r"[^A-Z0-9]+", " ", plain).split()
    return " ".join(words[1:] if words[:1] == ["LA"] else words)


_CODES: dict[str, list[str]] = {}
for _code, _labels in ACADEMY_LABELS.items():
    for _label in _labels:
        _CODES.setdefault(key(_label), []).append(_code)
_CODES[key("Polynésie")] = ["41"]  # the calendar's shorter label


def parse_day(text: str) -> date:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CellError("format", "not a date (YYYY-MM-DD or an ISO date-time)") from None
    return moment.astimezone(PARIS).date() if moment.tzinfo else moment.date()


def read_calendar_csv(path: Path) -> dict[tuple[str, int], Summer]:
    """The summers by (academy code, school year they close): `2024-2025`'s summer closes 2024."""
    aliases = {alias: column for column, names in COLUMNS.items() for alias in names}
    found: dict[tuple[str, int], tuple[int, Summer]] = {}
    errors: list[RowError] = []
    for line, raw in read_rows(path, required=(), optional=tuple(aliases), ignore_unknown=True):
        cells = {aliases[k]: v for k, v in raw.items() if k in aliases}
        # every row holds every header column (read_rows pads them), so the first row shows the header's
        if not found and not errors and "*" not in raw and (missing := [c for c in COLUMNS if c not in cells]):
            raise InvalidFile([RowError(1, c, "header.missing_column", "required column absent") for c in missing])
        row = RowParser(line, cells)
        codes = _CODES.get(key(row.text("location")), [])
        if row.errors or not codes or key(row.text("population")) not in PUPILS:
            errors += row.errors
            continue
        for code in codes:
            if key(row.text("description")) != (AUSTRAL_WINTER if code == "28" else SUMMER):
                continue
            summer = _summer(row)
            year = row.get("annee_scolaire", parse_school_year, required=True)
            errors += row.errors
            if row.errors or summer is None or year is None:
                break
            if summer.classes_resume.year != year + 1:
                errors.append(RowError(line, "end", "end.year", "classes do not resume in the school year after"))
                break
            seen = found.setdefault((code, year), (line, summer))
            if seen[1] != summer:
                errors.append(RowError(line, "*", "row.conflict", f"other dates than line {seen[0]}"))
    if errors:
        raise InvalidFile(errors)
    return {k: summer for k, (_, summer) in found.items()}


def _summer(row: RowParser) -> Summer | None:
    start, end = row.get("start", parse_day, required=True), row.get("end", parse_day, required=True)
    if start is None or end is None:
        return None
    if end <= start:
        row.refuse("end", "before_start", "the holidays end before they start")
        return None
    return Summer(start, end)
