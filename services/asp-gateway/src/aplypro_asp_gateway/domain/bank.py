"""Bank details at build time: IBAN and BIC checks (§7.1), ASP's BIC transformation and the IBAN split (§7.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

SEPA_COUNTRIES = frozenset(
    "AD AT BE BG CH CY CZ DE DK EE ES FI FR GB GI GR HR HU IE IS IT LI LT LU LV MC MT NL NO PL PT RO SE SI "
    "SK SM VA".split()
)
# BICs the ASP wants cut to their first 8 characters, whatever the country (rule 1).
_CUT_TO_EIGHT = frozenset({"BNPAFRPPNIC", "CMBRFR2BARK", "BNPAFRPPMTZ", "BNPAFRPPTAS", "BNPAFRPPETI",
                           "BNPAFRPPMAR", "BNPAFRPPENG", "BNPAFRPPORL"})
# France and the overseas territories whose IBANs ASP treats as French (rule 2).
_FRENCH_IBAN_COUNTRIES = frozenset({"FR", "GF", "GP", "MC", "MQ", "NC", "PF", "PM", "RE", "WF", "YT"})
_BIC_SHAPE = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_WHITESPACE = re.compile(r"\s+")
# Checked values remembered (schwifty's IBAN check is a third of a record's checks): a request blocked for
# another reason is checked again at every build, and a few hundred BICs serve every student. Pure functions
# of the text: the cache cannot change an answer. Bounded: about two files' worth of IBANs.
_CHECKS_CACHED = 16384


@dataclass(frozen=True)
class IbanParts:
    """How the payment file carries an IBAN: `CODEISOPAYS`, `CLECONTROL`, `ZONEBBAN`."""

    country: str
    check_digits: str
    bban: str


def normalise(value: str) -> str:
    return _WHITESPACE.sub("", value).upper()


@lru_cache(maxsize=_CHECKS_CACHED)
def iban_is_valid(iban: str) -> bool:
    """mod 97, country length, national keys (the French RIB key: the ASP rejects it) and SEPA zone."""
    value = normalise(iban)
    try:
        IBAN(value, validate_bban=True)
    except SchwiftyException:
        return False
    return value[:2] in SEPA_COUNTRIES


@lru_cache(maxsize=_CHECKS_CACHED)
def bic_is_valid(bic: str) -> bool:
    """Structure and country (schwifty), plus the location and branch rules schwifty does not enforce."""
    value = normalise(bic)
    if not _BIC_SHAPE.match(value):
        return False
    try:
        BIC(value)
    except SchwiftyException:
        return False
    location, branch = value[6:8], value[8:]
    if location[0] in "01" or location[1] == "O":
        return False
    return not (branch.startswith("X") and branch != "XXX")


def split_iban(iban: str) -> IbanParts:
    value = normalise(iban)
    return IbanParts(country=value[:2], check_digits=value[2:4], bban=value[4:])


def asp_bic(bic: str, iban: str) -> str:
    """The BIC as the ASP wants it, rules applied in order (§7.2)."""
    value, country = normalise(bic), normalise(iban)[:2]
    if value in _CUT_TO_EIGHT:
        return value[:8]
    if country in _FRENCH_IBAN_COUNTRIES:
        return value.removesuffix("XXX") if len(value) == 11 else value
    if len(value) == 8:
        return value + "XXX"
    return value
