"""Numbers printed on the documents and sent to the ASP (documents.md §4).

DA number = budget prefix + administrative number + start year + version digit, upper case.
PFMP number = DA number current when the PFMP is created + 2-digit rank; stored, never recomputed.
"""

import re
import secrets
import string
from enum import StrEnum
from typing import NamedTuple

from aplypro_documents.domain.errors import (
    InvalidNumberError,
    UnsupportedBudgetPrefixError,
    VersionLimitReachedError,
)
from aplypro_documents.domain.model import Ministry

ADMINISTRATIVE_ALPHABET = string.ascii_uppercase + string.digits
ADMINISTRATIVE_LENGTH = 10
MAX_VERSION = 9  # the ASP length leaves room for one version digit
MAX_PFMP_RANK = 99

PUBLIC_CONTRACT = "99"
PRIVATE_CONTRACTS = frozenset({"10", "20", "30", "31", "40", "41", "60"})


class BudgetPrefix(StrEnum):
    ENPU = "ENPU"
    ENPR = "ENPR"
    MASA = "MASA"
    MER = "MER"
    ARMEE = "ARMEE"
    MENJ_OTHER = "MENJ_OTHER"


# ARMEE (20 chars) and MENJ_OTHER (25) break the ASP's 18–19 check: refused until the ministry decides.
ISSUABLE_PREFIXES = frozenset({BudgetPrefix.ENPU, BudgetPrefix.ENPR, BudgetPrefix.MASA, BudgetPrefix.MER})

_ADMIN_RE = re.compile(r"[A-Z0-9]{10}")
_DA_RE = re.compile(r"(ENPU|ENPR|MASA|MER)([A-Z0-9]{10})(\d{4})([1-9])")


class DaNumber(NamedTuple):
    prefix: BudgetPrefix
    administrative_number: str
    school_year: int
    version: int


def administrative_number() -> str:
    """10 random [A-Z0-9]; uniqueness is a database index's job (retry on collision)."""
    return "".join(secrets.choice(ADMINISTRATIVE_ALPHABET) for _ in range(ADMINISTRATIVE_LENGTH))


def budget_prefix(ministry: Ministry | str, contract_type_code: str) -> BudgetPrefix:
    """Prefix from the MEF's ministry and the establishment's contract type; refuses unissuable ones."""
    ministry = ministry if isinstance(ministry, Ministry) else Ministry.parse(ministry)
    contract = str(contract_type_code).strip()
    if ministry is Ministry.MENJ:
        if contract == PUBLIC_CONTRACT:
            prefix = BudgetPrefix.ENPU
        elif contract in PRIVATE_CONTRACTS:
            prefix = BudgetPrefix.ENPR
        else:
            prefix = BudgetPrefix.MENJ_OTHER
    else:
        prefix = {
            Ministry.MASA: BudgetPrefix.MASA,
            Ministry.MER: BudgetPrefix.MER,
            Ministry.ARMEES: BudgetPrefix.ARMEE,
        }[ministry]
    _require_issuable(prefix)
    return prefix


def _require_issuable(prefix: BudgetPrefix | str) -> BudgetPrefix:
    try:
        checked = BudgetPrefix(prefix)
    except ValueError:
        raise InvalidNumberError(f"unknown budget prefix {prefix!r}") from None
    if checked not in ISSUABLE_PREFIXES:
        raise UnsupportedBudgetPrefixError(f"budget prefix {checked} cannot be issued")
    return checked


def next_version(counter: int) -> int:
    """The counter starts at 0 and is incremented before each render, so the first DA carries 1."""
    if counter < 0:
        raise InvalidNumberError(f"version counters start at 0, got {counter}")
    if counter >= MAX_VERSION:
        raise VersionLimitReachedError(f"a DA is issued at most {MAX_VERSION} times")
    return counter + 1


def da_number(prefix: BudgetPrefix | str, admin_number: str, school_year: int, version: int) -> str:
    checked = _require_issuable(prefix)
    admin = admin_number.strip().upper()
    if not _ADMIN_RE.fullmatch(admin):
        raise InvalidNumberError("an administrative number is 10 characters [A-Z0-9]")
    if not 1000 <= school_year <= 9999:
        raise InvalidNumberError(f"school year {school_year} is not a 4-digit start year")
    if version > MAX_VERSION:
        raise VersionLimitReachedError(f"version {version} does not fit the single version digit")
    if version < 1:
        raise InvalidNumberError(f"versions start at 1, got {version}")
    return f"{checked}{admin}{school_year}{version}"


def parse_da_number(number: str) -> DaNumber:
    match = _DA_RE.fullmatch(number.strip().upper())
    if match is None:
        raise InvalidNumberError("not a DA number")
    prefix, admin, year, version = match.groups()
    return DaNumber(BudgetPrefix(prefix), admin, int(year), int(version))


def pfmp_number(da_number: str, rank: int) -> str:
    """Rank is the PFMP's creation order in its schooling, from 1."""
    parse_da_number(da_number)
    if not 1 <= rank <= MAX_PFMP_RANK:
        raise InvalidNumberError(f"PFMP rank {rank} is outside 1..{MAX_PFMP_RANK}")
    return f"{da_number.strip().upper()}{rank:02d}"
