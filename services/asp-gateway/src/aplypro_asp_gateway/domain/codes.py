"""Codes and numbers of the payment file: INSEE countries, budget programme, department, PFMP numbers, euros."""

from __future__ import annotations

from datetime import date

FRANCE = "99100"
_UNUSABLE_COUNTRIES = frozenset({"990", "995"})  # INSEE "non-country" codes (§4.6)
_PRIVATE_CONTRACT_CODES = frozenset({"30", "31", "40", "41", "60", "20", "10"})
_OTHER_MINISTRIES = frozenset({"masa", "mer", "armee"})
# The BCN and the calculator spell the Armées ministry `ARMEES` (calculator's bareme.py normalises every
# variant to it); older messages and the programme key say `armee`: all variants read as one (issue 10).
_MINISTRY_ALIASES = {"armees": "armee", "armées": "armee", "armée": "armee"}
SAINT_MARTIN_SPLIT = date(2008, 1, 1)  # Saint-Martin became its own collectivity: its code changed


class CodeError(ValueError):
    """A code that cannot go into the file; `code` is the blocking reason."""

    code = "code_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def insee_country(code: str) -> str:
    """5 characters unchanged, 3 prefixed with `99` (`100` → `99100`); `990`/`995` (other countries, no
    nationality) fail in either form, as the students service stores them prefixed (`99990`, `99995`);
    other lengths fail."""
    value = code.strip()
    if len(value) not in (3, 5):
        raise CodeError("malformed_country_code", "a country code has 3 or 5 characters")
    if value in _UNUSABLE_COUNTRIES or (value.startswith("99") and value[2:] in _UNUSABLE_COUNTRIES):
        raise CodeError("unusable_country_code", "the country code is not a country")
    return value if len(value) == 5 else "99" + value


def birth_commune(code: str, birth_date: date) -> str:
    """Saint-Martin rule: 97801 before 2008 is sent as 97127, 97127 from 2008 on as 97801."""
    if birth_date < SAINT_MARTIN_SPLIT and code == "97801":
        return "97127"
    if birth_date >= SAINT_MARTIN_SPLIT and code == "97127":
        return "97801"
    return code


def budget_programme(mef_ministry: str, contract_type_code: str) -> str:
    """BOP of a schooling (§4.5): MENJ splits by the establishment's contract, others by ministry."""
    ministry = mef_ministry.strip().lower()
    ministry = _MINISTRY_ALIASES.get(ministry, ministry)
    if ministry == "menj":
        if contract_type_code == "99":
            return "menj_public"
        return "menj_private" if contract_type_code in _PRIVATE_CONTRACT_CODES else "menj_other"
    if ministry in _OTHER_MINISTRIES:
        return ministry
    raise CodeError("unknown_budget_programme", "no budget programme for this ministry")


def da_prefix(bop: str) -> str:
    """The DA number's budget prefix (documents.md §4): the documents service issues the numbers; fictitious
    data (demo-file) shapes its own with it."""
    return {"menj_public": "ENPU", "menj_private": "ENPR"}.get(bop, bop.upper())


def department(uai: str) -> str:
    """`VALEUR`: the establishment's department, from its UAI (Corsica's UAIs start 620/720)."""
    prefix = uai[:3]
    return {"620": "02A", "720": "02B"}.get(prefix, prefix)


def whole_euros(cents: int) -> int:
    """The ASP format carries whole euros; a non-integer amount cannot be sent (§7.6)."""
    euros, rest = divmod(cents, 100)
    if rest or cents < 0:
        raise CodeError("pfmp_amount", "the amount is not a whole, non-negative number of euros")
    return euros


def pfmp_number(da_number: str, pfmp_rank: int) -> str:
    """The fallback PFMP number: the DA number current when the PFMP is first sent + its rank on 2 digits (§4.3).
    Used only while no état liquidatif announced the PFMP's printed number (readiness._pfmp_number): the two
    differ when the DA was reissued in between. Stored with the record, never recomputed."""
    return f"{da_number}{pfmp_rank:02d}"
