"""Normalises the students CSV of imports.md §3.3 into schooling records; the only place that knows it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aplypro_contracts.text import LABEL_MAX, PERSON_NAME_MAX

from aplypro_students.adapters.csv_reader import (
    CellError,
    RowParser,
    parse_date,
    parse_mef,
    parse_school_year,
    parse_uai,
    read_rows,
)
from aplypro_students.domain.model import Address, Identity, SchoolingRecord, SchoolingStatus, Sex
from aplypro_students.domain.reconcile import merge_identity
from aplypro_students.domain.report import RowError

REQUIRED = ("annee_scolaire", "ine", "nom", "prenoms", "date_naissance", "classe", "code_mef", "date_debut")
ADDRESS_LINES = ("adresse_ligne1", "adresse_ligne2", "adresse_ligne3", "adresse_ligne4")
OPTIONAL = ("uai", "sexe", "commune_naissance_insee", "pays_naissance_insee", *ADDRESS_LINES, "code_postal",
            "commune_residence_insee", "commune_residence", "pays_residence_insee", "statut", "date_fin")

# the contracts' limits (aplypro_contracts.text); any other column: FREE_TEXT_MAX, and codes have patterns
LIMITS = {"nom": PERSON_NAME_MAX, **dict.fromkeys(
    (*ADDRESS_LINES, "code_postal", "commune_residence", "classe"), LABEL_MAX)}
_SEX = {"F": Sex.FEMALE, "M": Sex.MALE, "H": Sex.MALE}  # H (homme) is an old spelling of M
_STATUS = {"scolaire": SchoolingStatus.STUDENT, "apprenti": SchoolingStatus.APPRENTICE,
           "autre": SchoolingStatus.OTHER}


@dataclass(frozen=True)
class ParsedFile:
    records: list[SchoolingRecord]
    errors: list[RowError]  # rows refused, by (line, column, reason)
    warnings: list[RowError]  # rows kept, with something to fix later


def parse_ine(text: str) -> str:
    ine = text.upper()
    if not re.fullmatch(r"[0-9]{10}[A-Z]|[0-9]{9}[A-Z]{2}", ine):
        raise CellError("format", "an INE is 10 digits and a letter, or 9 digits and 2 letters")
    return ine


def parse_first_names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise CellError("missing", "at least one first name is required")
    if any(len(n) > PERSON_NAME_MAX for n in names):
        raise CellError("too_long", f"a first name is longer than {PERSON_NAME_MAX} characters")
    return names[:3]  # the model keeps three


def parse_sex(text: str) -> Sex:
    if text.upper() not in _SEX:
        raise CellError("value", "F, M or H")
    return _SEX[text.upper()]


def parse_status(text: str) -> SchoolingStatus:
    if text.lower() not in _STATUS:
        raise CellError("value", "scolaire, apprenti or autre")
    return _STATUS[text.lower()]


def parse_commune(text: str) -> str:
    code = text.upper()
    if not re.fullmatch(r"[0-9]{5}|2[AB][0-9]{3}", code):
        raise CellError("format", "an INSEE commune code has 5 characters")
    return code


def parse_country(text: str) -> str:
    """5 digits; the 3-digit form gets the 99 prefix (100 → 99100)."""
    if re.fullmatch(r"[0-9]{3}", text):
        return f"99{text}"
    if not re.fullmatch(r"99[0-9]{3}", text):
        raise CellError("format", "an INSEE country code has 5 digits (99100) or 3 (100)")
    return text


def _address(row: RowParser) -> Address:
    return Address(
        lines=tuple(line for line in (row.text(c) for c in ADDRESS_LINES) if line),
        postal_code=row.text("code_postal") or None,
        city_insee=row.get("commune_residence_insee", parse_commune),
        city_name=row.text("commune_residence") or None,
        country_insee=row.get("pays_residence_insee", parse_country),
    )


def _record(row: RowParser, uai: str) -> SchoolingRecord | None:
    if row.misshapen:  # its cells cannot be trusted to sit in their columns
        return None
    if row.get("uai", parse_uai) not in (None, uai):
        row.refuse("uai", "mismatch", "differs from the establishment being imported")
    sex = row.get("sexe", parse_sex)
    if sex is None and not row.text("sexe"):
        row.warn("sexe", "unknown", "no sex given: payments stay blocked until it is known")
    ine = row.get("ine", parse_ine, required=True)
    last_name = row.get("nom", str, required=True)
    first_names = row.get("prenoms", parse_first_names, required=True)
    birth_date = row.get("date_naissance", parse_date, required=True)
    school_year = row.get("annee_scolaire", parse_school_year, required=True)
    label = row.get("classe", str, required=True)
    mef = row.get("code_mef", parse_mef, required=True)
    start = row.get("date_debut", parse_date, required=True)
    end = row.get("date_fin", parse_date)
    identity_extra = (row.get("commune_naissance_insee", parse_commune),
                      row.get("pays_naissance_insee", parse_country), _address(row))
    status = row.get("statut", parse_status) or SchoolingStatus.STUDENT
    if start and end and end < start:
        row.refuse("date_fin", "before_start", "the end date is before the start date")
    if start and birth_date and birth_date >= start:
        row.refuse("date_naissance", "after_start", "the birth date is not before the start date")
    if (row.errors or ine is None or last_name is None or first_names is None or birth_date is None
            or school_year is None or label is None or mef is None or start is None):
        return None
    identity = Identity(ine, last_name, first_names, birth_date, sex or Sex.UNKNOWN, *identity_extra)
    return SchoolingRecord(row.line, identity, school_year, label, mef, status, start, end)


def _agree(a: Identity, b: Identity) -> bool:
    """No value of one contradicts the other: merging them in either order gives the same identity."""
    return merge_identity(a, b) == merge_identity(b, a)


def _one_identity_per_ine(records: list[SchoolingRecord]) -> tuple[list[SchoolingRecord], list[RowError]]:
    """Rows of one INE must agree wherever both give a value; else every row of that INE is refused.

    Keeping one of them would pick an identity silently; the report names lines only (no INE, no name).
    """
    by_ine: dict[str, list[SchoolingRecord]] = {}
    for record in records:
        by_ine.setdefault(record.identity.ine, []).append(record)
    errors: list[RowError] = []
    refused: set[str] = set()
    for ine, rows in by_ine.items():
        merged = rows[0].identity
        for record in rows[1:]:
            if not _agree(merged, record.identity):
                refused.add(ine)
                break
            merged = merge_identity(merged, record.identity)
        if ine in refused:
            lines = [r.line for r in rows]
            where = f"{', '.join(map(str, lines[:-1]))} and {lines[-1]}"
            errors += [RowError(n, "ine", "ine.conflicting_identity",
                                f"the same INE is on lines {where} with different identities") for n in lines]
    return [r for r in records if r.identity.ine not in refused], errors


def read_students_csv(path: Path, *, uai: str) -> ParsedFile:
    """Every row is read and checked; header problems raise InvalidFile at once."""
    return parse_student_rows(read_rows(path, required=REQUIRED, optional=OPTIONAL), uai=uai)


def parse_student_rows(rows: Iterable[tuple[int, dict[str, str]]], *, uai: str) -> ParsedFile:
    """(line, cells named as this file's columns) into records: the one row normaliser, also used by the APIs'
    adapters once they have put their payloads in these columns, so every source is checked alike."""
    records: list[SchoolingRecord] = []
    errors: list[RowError] = []
    warnings: list[RowError] = []
    for line, cells in rows:
        row = RowParser(line, cells, LIMITS)
        record = _record(row, uai)
        errors += row.errors
        if record is not None:
            records.append(record)
            warnings += row.warnings
    records, conflicts = _one_identity_per_ine(records)
    errors += conflicts
    conflict_lines = {e.line for e in conflicts}
    warnings = [w for w in warnings if w.line not in conflict_lines]
    if records:  # one file is one school year: rows of another year are refused
        year = records[0].school_year
        errors += [RowError(r.line, "annee_scolaire", "annee_scolaire.mixed", "another school year than line "
                            f"{records[0].line}") for r in records if r.school_year != year]
        records = [r for r in records if r.school_year == year]
    return ParsedFile(records, sorted(errors, key=lambda e: e.line), warnings)
