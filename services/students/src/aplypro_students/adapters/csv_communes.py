"""Reads the commune exception table (imports.md §4): `type;ancien_code;nouveau_code`, `;`-separated.

`type` is `naissance` (birth commune) or `residence` (residence commune; `résidence` accepted); codes are
INSEE commune codes (5 characters, Corsica 2A/2B). A new code must be final: one that is itself remapped
for the same type is refused (give the final code), as are an old code given twice with two new codes and
a code mapped to itself. Any refused line refuses the file, reported (line, column, reason).
"""

from __future__ import annotations

from pathlib import Path

from aplypro_students.adapters.csv_reader import CellError, RowParser, read_rows
from aplypro_students.domain.communes import COMMUNE_CODE, CommuneExceptions, CommuneKind
from aplypro_students.domain.report import InvalidFile, RowError

SAMPLE = Path(__file__).resolve().parent.parent / "reference" / "communes_exceptions_sample.csv"
COLUMNS = ("type", "ancien_code", "nouveau_code")
KINDS = {"naissance": CommuneKind.BIRTH, "residence": CommuneKind.RESIDENCE, "résidence": CommuneKind.RESIDENCE}


def parse_kind(text: str) -> CommuneKind:
    kind = KINDS.get(text.lower())
    if kind is None:
        raise CellError("unknown", "naissance or residence")
    return kind


def parse_commune_code(text: str) -> str:
    code = text.upper()
    if not COMMUNE_CODE.fullmatch(code):
        raise CellError("format", "an INSEE commune code has 5 characters (digits; 2A or 2B for Corsica)")
    return code


def read_commune_exceptions_csv(path: Path) -> CommuneExceptions:
    table: dict[tuple[CommuneKind, str], tuple[int, str]] = {}
    errors: list[RowError] = []
    for line, cells in read_rows(path, required=COLUMNS, optional=()):
        row = RowParser(line, cells)
        kind = row.get("type", parse_kind, required=True)
        old = row.get("ancien_code", parse_commune_code, required=True)
        new = row.get("nouveau_code", parse_commune_code, required=True)
        if kind is None or old is None or new is None:
            errors += row.errors
            continue
        if old == new:
            errors.append(RowError(line, "nouveau_code", "nouveau_code.same", "the same code as ancien_code"))
            continue
        seen = table.setdefault((kind, old), (line, new))
        if seen[1] != new:
            errors.append(RowError(line, "ancien_code", "ancien_code.conflict",
                                   f"another nouveau_code for the same type on line {seen[0]}"))
    for (kind, _), (line, new) in sorted(table.items(), key=lambda item: item[1][0]):
        if (kind, new) in table:
            errors.append(RowError(line, "nouveau_code", "nouveau_code.remapped",
                                   f"itself remapped on line {table[kind, new][0]}: give the final code"))
    if errors:
        raise InvalidFile(sorted(errors, key=lambda e: e.line))
    return CommuneExceptions({k: new for k, (_, new) in table.items()})
