"""Reads the bulk RIB file `ine;titulaire;type_titulaire;iban;bic` (+ `uai`); §8 checks apply to each row."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from aplypro_students.adapters.csv_reader import CellError, RowParser, parse_uai, read_rows
from aplypro_students.adapters.csv_students import parse_ine
from aplypro_students.domain.report import RowError
from aplypro_students.domain.rib import (
    ASP_NAME_LENGTH,
    InvalidBankDetails,
    OwnerType,
    check_bank_details,
    is_cut_for_asp,
)
from aplypro_students.service_layer.record_ribs import RecordRib

REQUIRED = ("ine", "titulaire", "type_titulaire", "iban", "bic")
_OWNER_TYPES = {"eleve": OwnerType.PERSONAL, "representant_ou_tiers": OwnerType.OTHER_PERSON,
                "personne_morale": OwnerType.MORAL_PERSON, "mandat": OwnerType.MANDATE}
_COLUMN_OF = {"holder_name": "titulaire", "iban": "iban", "bic": "bic"}


@dataclass(frozen=True)
class ParsedRibs:
    entries: list[RecordRib]
    errors: list[RowError]
    warnings: list[RowError]


def parse_owner_type(text: str) -> OwnerType:
    key = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    if key not in _OWNER_TYPES:
        raise CellError("value", "eleve, representant_ou_tiers, personne_morale or mandat")
    return _OWNER_TYPES[key]


def _entry(row: RowParser, uai: str | None) -> RecordRib | None:
    if row.errors:  # a misshapen row, or a cell with a control character or too long
        return None
    row_uai = row.get("uai", parse_uai, required=uai is None)
    if uai is not None and row_uai not in (None, uai):
        row.refuse("uai", "mismatch", "differs from the --uai option")
    ine = row.get("ine", parse_ine, required=True)
    owner_type = row.get("type_titulaire", parse_owner_type, required=True)
    details = None
    if owner_type is not None:
        # whitespace inside IBAN and BIC is removed by the checks, so the raw cells are passed
        try:
            details = check_bank_details(owner_type, row.cells.get("titulaire", ""), row.cells.get("iban", ""),
                                         row.cells.get("bic", ""))
        except InvalidBankDetails as exc:
            for err in exc.errors:
                row.errors.append(RowError(row.line, _COLUMN_OF[err.field], err.code, str(err)))
    target = uai or row_uai
    if row.errors or ine is None or target is None or details is None:
        return None
    if is_cut_for_asp(details.holder_name):
        row.warn("titulaire", "truncated", f"the ASP keeps only the first {ASP_NAME_LENGTH} characters")
    return RecordRib(row.line, ine, target, details)


def read_ribs_csv(path: Path, *, uai: str | None) -> ParsedRibs:
    """Without --uai the file must carry a `uai` column; one active RIB per student and establishment."""
    required = REQUIRED if uai is not None else (*REQUIRED, "uai")
    entries: list[RecordRib] = []
    errors: list[RowError] = []
    warnings: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    for line, cells in read_rows(path, required=required, optional=("uai",)):
        row = RowParser(line, cells)
        entry = _entry(row, uai)
        if entry is not None and (entry.ine, entry.uai) in seen:
            row.refuse("ine", "duplicate", f"a RIB for this student and establishment is already on line "
                                           f"{seen[entry.ine, entry.uai]}")
            entry = None
        errors += row.errors
        if entry is not None:
            seen[entry.ine, entry.uai] = entry.line
            entries.append(entry)
            warnings += row.warnings
    return ParsedRibs(entries, errors, warnings)
