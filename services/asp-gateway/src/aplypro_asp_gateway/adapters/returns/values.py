"""Values of a return line: amounts to integer cents through Decimal (never float), `dd/mm/YYYY` dates, ids.

Each parser returns None for an absent value and raises `BadValue` (carrying a line-fault key of
asp_errors.LINE_FAULTS) for a present but unreadable one: the line becomes `invalid`, the file stays whole.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation


class BadValue(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


_AMOUNT = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")  # `300.00`, `225.0`, `-150.00`; a French `,` too (unconfirmed)
_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$|^(\d{4})-(\d{2})-(\d{2})$")
_LONG_DIGITS = 19  # xsd:long, non-negative as the ASP issues them


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= _LONG_DIGITS


def cents(text: str | None) -> int | None:
    """`300.00` → 30000. More than two decimals that are not zeros cannot be cents: refused, never rounded."""
    if text is None:
        return None
    value = text.strip().replace(" ", "")
    if not _AMOUNT.match(value):
        raise BadValue("bad_amount")
    try:
        amount = Decimal(value.replace(",", ".")) * 100
    except InvalidOperation:
        raise BadValue("bad_amount") from None
    if amount != amount.to_integral_value():
        raise BadValue("bad_amount")
    return int(amount)


def asp_date(text: str | None) -> date | None:
    """`05/06/2026` (the ASP's format, §4.1); ISO `2026-06-05` accepted too."""
    if text is None:
        return None
    found = _DATE.match(text.strip())
    if not found:
        raise BadValue("bad_date")
    day, month, year = found.group(1, 2, 3) if found.group(1) else found.group(6, 5, 4)
    try:  # strptime would do the same at five times the cost, on every line of a 7,000-line file
        return date(int(year), int(month), int(day))
    except ValueError:
        raise BadValue("bad_date") from None


def asp_id(text: str | None) -> str | None:
    """An ASP id stays a digit string, emitted verbatim later (§1)."""
    if text is None:
        return None
    if not _digits(text):
        raise BadValue("bad_asp_id")
    return text


def record_id(text: str | None) -> int:
    """Column 1 of a CSV answer: our idEnregistrement."""
    if text is None:
        raise BadValue("missing_record_id")
    if not _digits(text):
        raise BadValue("bad_record_id")
    return int(text)
