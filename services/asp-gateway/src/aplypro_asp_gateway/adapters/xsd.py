"""Our XSD of the payment file (asp-exchange.md §4.8), loaded once, and the checks of a file against it.

A violation is kept as its line, element path and libxml2 error type, never its message: the message quotes
the refused value, which may be a name, a birth date or an IBAN.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

Element = Any  # lxml ships no type stubs here

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "paiement.xsd"


@dataclass(frozen=True)
class Violation:
    """Where the file breaks the schema: no value, no message (personal data)."""

    path: str  # libxml2's element path, e.g. /*/*[2]/*[6]/*/*[3]/*/*[3]: positions only, no value
    kind: str  # libxml2's error type, e.g. SCHEMAV_CVC_PATTERN_VALID
    record: int | None  # position (from 1) of the ENREGISTREMENT holding it; None: outside every record


# FICHIER's second child is ENREGISTREMENTS (we always write PARAMETRAGE first); its children are the records,
# each `*[n]`, or a bare `*` when it is the only one.
_RECORD_PATH = re.compile(r"^/\*/\*\[2\]/\*(?:\[(\d+)\])?(?:/|$)")


@functools.cache
def payment_schema() -> etree.XMLSchema:
    """Compiled once per process (a few milliseconds; every build reuses it)."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def tree_violations(root: Element) -> list[Violation]:
    """Every violation of a FICHIER tree, each with the position of the record holding it. [] = valid.

    The builder validates the tree it is about to serialise: the same check as on the bytes, without parsing
    tens of megabytes back (lxml refuses, when a value is set, any text XML could not hold)."""
    schema = payment_schema()
    if schema.validate(root):
        return []
    found = []
    for error in schema.error_log:
        match = _RECORD_PATH.match(error.path or "")
        record = int(match.group(1) or 1) if match else None
        found.append(Violation(error.path or "", error.type_name, record))
    return found


def violations(content: bytes) -> list[Violation]:
    """Every violation of a file's bytes (the fake ASP, the demo, tests). [] = valid."""
    try:
        # huge_tree: a 7 000-record file is tens of megabytes, above libxml2's default safety limits.
        root = etree.fromstring(content, etree.XMLParser(huge_tree=True, resolve_entities=False))
    except etree.XMLSyntaxError:
        return [Violation("", "XML_SYNTAX", None)]
    return tree_violations(root)


def is_valid(content: bytes) -> bool:
    return not violations(content)
