"""Human file names of downloads (documents.md §7), set only at download: object keys keep internal ids.

`<LAST>_<First>_<kind>_<number>.pdf` for school staff; `etat_liquidatif_<PFMP number>.pdf` for the ASP;
`<UAI>_décisions_d_attribution_<YYYY-MM-DD>.zip` for an establishment's zip.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

KIND_NAMES = {
    "attribution": "décision-d-attribution",
    "abrogation": "décision-d-abrogation",
    "withdrawal": "décision-de-retrait",
    "liquidation": "état-liquidatif",
}
# Characters no file system or browser accepts in a name, and whitespace (one name, one token).
_UNSAFE = re.compile(r"[\x00-\x1f\\/:*?\"<>|]+")
_SPACES = re.compile(r"\s+")


def _token(text: str) -> str:
    return _SPACES.sub("-", _UNSAFE.sub("", text).strip()).strip(".-") or "x"


def student_document_name(last_name: str, first_names: Sequence[str], kind: str, number: str) -> str:
    """`DURAND_Hugo_décision-d-attribution_ENPU…1.pdf`: last name upper-cased, first given name as written."""
    first = first_names[0] if first_names else ""
    return f"{_token(last_name.upper())}_{_token(first)}_{KIND_NAMES.get(kind, _token(kind))}_{_token(number)}.pdf"


def asp_liquidation_name(pfmp_number: str) -> str:
    return f"etat_liquidatif_{_token(pfmp_number)}.pdf"


def establishment_zip_name(uai: str, on: date) -> str:
    return f"{uai}_décisions_d_attribution_{on.isoformat()}.zip"


def class_file_name(uai: str, class_label: str, on: date, suffix: str) -> str:
    """A class's zip or merged PDF: not named by §7, so the establishment's pattern with the class added."""
    return f"{uai}_{_token(class_label)}_décisions_d_attribution_{on.isoformat()}.{suffix}"
