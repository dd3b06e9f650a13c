"""Reads the reference files: establishments (`;`, our columns) and the BCN MEF export (`,`, BCN columns)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from aplypro_contracts.text import LABEL_MAX, PERSON_NAME_MAX

from aplypro_students.adapters.csv_reader import (
    CellError,
    RowParser,
    is_ascii_digits,
    parse_mef,
    parse_uai,
    read_rows,
)
from aplypro_students.adapters.csv_students import parse_commune
from aplypro_students.domain.reference import Establishment, Mef
from aplypro_students.domain.report import InvalidFile, RowError

ESTABLISHMENT_REQUIRED = ("uai", "name")
ESTABLISHMENT_OPTIONAL = ("ministry", "academy_code", "contract_type_code", "address_line1", "address_line2",
                          "postal_code", "city", "email", "phone", "head_name", "city_insee")
T = TypeVar("T")
# the contracts' limits (aplypro_contracts.text), so a loaded row always makes valid events
ESTABLISHMENT_LIMITS = {**dict.fromkeys(ESTABLISHMENT_REQUIRED + ESTABLISHMENT_OPTIONAL, LABEL_MAX),
                        "head_name": PERSON_NAME_MAX}
MEF_REQUIRED = ("mef", "dispositif_formation", "formation_diplome", "duree_dispositif", "annee_dispositif",
                "libelle_long", "ministere")
MEF_LIMITS = dict.fromkeys(MEF_REQUIRED, LABEL_MAX)


def _pattern(regex: str, reason: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not re.fullmatch(regex, text):
            raise CellError("format", reason)
        return text
    return parse


def _whole(text: str) -> int:
    if not is_ascii_digits(text):
        raise CellError("format", "not a whole number")
    return int(text)


def _unique(items: list[tuple[int, str, T]], column: str) -> list[T]:
    """Refuses a key seen on an earlier line rather than silently keeping one of the two rows."""
    seen: dict[str, int] = {}
    errors = []
    for line, key, _ in items:
        if key in seen:
            errors.append(RowError(line, column, f"{column}.duplicate", f"already on line {seen[key]}"))
        seen.setdefault(key, line)
    if errors:
        raise InvalidFile(errors)
    return [item for _, _, item in items]


def read_establishments_csv(path: Path) -> list[Establishment]:
    items: list[tuple[int, str, Establishment]] = []
    errors: list[RowError] = []
    for line, cells in read_rows(path, required=ESTABLISHMENT_REQUIRED, optional=ESTABLISHMENT_OPTIONAL):
        row = RowParser(line, cells, ESTABLISHMENT_LIMITS)
        if row.errors:
            errors += row.errors
            continue
        uai = row.get("uai", parse_uai, required=True)
        name = row.get("name", str, required=True)
        academy = row.get("academy_code", _pattern(r"[0-9]{2}", "an academy code has 2 digits"))
        contract = row.get("contract_type_code", _pattern(r"[0-9]{1,2}", "a contract type code has 1-2 digits"))
        city_insee = row.get("city_insee", parse_commune)  # optional: files without the column still load
        errors += row.errors
        if uai is None or name is None or row.errors:
            continue
        lines = tuple(t for t in (row.text("address_line1"), row.text("address_line2")) if t)
        items.append((line, uai, Establishment(
            uai, name, row.text("ministry") or "MENJ", academy, contract or "99", lines,
            row.text("postal_code") or None, row.text("city") or None, row.text("email") or None,
            row.text("phone") or None, row.text("head_name") or None, city_insee,
        )))
    if errors:
        raise InvalidFile(errors)
    return _unique(items, "uai")


def read_bcn_mefs_csv(path: Path) -> list[Mef]:
    """BCN exports carry many more columns (ignored) and were long Windows-1252: both are accepted."""
    items: list[tuple[int, str, Mef]] = []
    errors: list[RowError] = []
    for line, cells in read_rows(path, required=MEF_REQUIRED, optional=(), delimiter=",", ignore_unknown=True,
                                 encodings=("utf-8-sig", "cp1252")):
        row = RowParser(line, cells, MEF_LIMITS)
        if row.errors:
            errors += row.errors
            continue
        code = row.get("mef", parse_mef, required=True)
        dispositif = row.get("dispositif_formation", _pattern(r"[0-9]{3}", "3 digits"), required=True)
        diploma = row.get("formation_diplome", _pattern(r"[0-9A-Z]{1,8}", "up to 8 letters and digits"),
                          required=True)
        duration = row.get("duree_dispositif", _whole)
        year = row.get("annee_dispositif", _whole)
        label = row.get("libelle_long", str, required=True)
        ministry = row.get("ministere", str, required=True)
        errors += row.errors
        if row.errors or code is None or dispositif is None or diploma is None or label is None or ministry is None:
            continue
        # BCN drops leading zeros of the diploma code in some exports; it is 8 characters
        items.append((line, code, Mef(code, dispositif, diploma.zfill(8), duration, year, label, ministry)))
    if errors:
        raise InvalidFile(errors)
    return _unique(items, "mef")
