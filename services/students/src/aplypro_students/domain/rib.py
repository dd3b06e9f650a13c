"""Bank details at entry time (imports.md §8): normalise, then check IBAN, BIC and holder name."""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass
from enum import StrEnum

from schwifty import BIC, IBAN
from schwifty import exceptions as sw

from aplypro_students.domain.sepa import SEPA_BIC_COUNTRIES, SEPA_IBAN_COUNTRIES

ASP_NAME_LENGTH = 32  # the ASP keeps 32 characters of the holder name
MAX_HOLDER_NAME = 70  # what the RibRecorded contract carries
_ASP_NAME = re.compile(r"^[A-Za-z0-9 /\-?:().,'+]*$")
_BIC = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
# Letters NFKD does not decompose, and typographic marks people paste from word processors.
_SPECIAL = str.maketrans({"Œ": "OE", "œ": "oe", "Æ": "AE", "æ": "ae", "ß": "ss", "Ø": "O", "ø": "o", "Đ": "D",
                          "đ": "d", "Ł": "L", "ł": "l", "’": "'", "‘": "'", "–": "-", "—": "-"})


class OwnerType(StrEnum):
    PERSONAL = "personal"
    OTHER_PERSON = "other_person"
    MORAL_PERSON = "moral_person"
    MANDATE = "mandate"


class RibError(ValueError):
    """A refused field; `code` is the stable error key (`iban.sepa`), the message never holds the value."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field, self.code = field, code


@dataclass(frozen=True)
class BankDetails:
    owner_type: OwnerType
    holder_name: str  # as entered, spaces collapsed; transliterated only when sent to the ASP
    iban: str
    bic: str


def normalise_code(text: str) -> str:
    """IBAN and BIC: every whitespace removed, upper case."""
    return "".join(text.split()).upper()


def check_iban(text: str) -> str:
    iban = normalise_code(text)
    if not iban:
        raise RibError("iban", "iban.blank", "the IBAN is empty")
    try:
        with warnings.catch_warnings():
            # countries without a known national checksum only warn; mod-97 and the pattern still apply
            warnings.simplefilter("ignore", sw.NationalChecksumNotVerified)
            IBAN(iban, validate_bban=True)
    except sw.InvalidCountryCode:
        raise RibError("iban", "iban.country", "unknown IBAN country") from None
    except sw.InvalidLength:
        raise RibError("iban", "iban.length", "wrong length for its country") from None
    except sw.InvalidChecksumDigits:
        raise RibError("iban", "iban.checksum", "the IBAN check digits are wrong") from None
    except sw.InvalidBBANChecksum:
        raise RibError("iban", "iban.bban_checksum", "the national check digits (clé RIB) are wrong") from None
    except sw.SchwiftyException:
        raise RibError("iban", "iban.format", "does not match the IBAN format of its country") from None
    if iban[:2] not in SEPA_IBAN_COUNTRIES:
        raise RibError("iban", "iban.sepa", "the account is outside the SEPA zone")
    return iban


def check_bic(text: str) -> str:
    bic = normalise_code(text)
    if not _BIC.match(bic):
        raise RibError("bic", "bic.format", "a BIC has 8 or 11 letters and digits (AAAACCLL[BBB])")
    if bic[6] in "01" or bic[7] == "O":
        raise RibError("bic", "bic.location", "invalid location code (characters 7-8)")
    if len(bic) == 11 and bic[8] == "X" and bic[8:] != "XXX":
        raise RibError("bic", "bic.branch", "a branch code starting with X must be XXX")
    try:
        BIC(bic)
    except sw.InvalidCountryCode:
        raise RibError("bic", "bic.country", "unknown BIC country") from None
    except sw.SchwiftyException:
        raise RibError("bic", "bic.format", "not a valid BIC") from None
    if bic[4:6] not in SEPA_BIC_COUNTRIES:
        raise RibError("bic", "bic.sepa", "the bank is outside the SEPA zone")
    return bic


def _transliterated(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.translate(_SPECIAL))
    ascii_name = "".join(c for c in decomposed if not unicodedata.combining(c))
    if not _ASP_NAME.match(ascii_name):
        raise RibError("holder_name", "holder_name.invalid_characters",
                       "only Latin letters, digits, space and / - ? : ( ) . , ' + can be sent")
    return ascii_name


def asp_holder_name(name: str) -> str:
    """The name as the ASP will receive it: transliterated to its charset and cut to 32 characters."""
    return _transliterated(name)[:ASP_NAME_LENGTH]


def is_cut_for_asp(name: str) -> bool:
    return len(_transliterated(name)) > ASP_NAME_LENGTH


def check_holder_name(text: str) -> str:
    name = " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split())
    if not name:
        raise RibError("holder_name", "holder_name.blank", "the holder name is empty")
    if len(name) > MAX_HOLDER_NAME:
        raise RibError("holder_name", "holder_name.too_long", f"more than {MAX_HOLDER_NAME} characters")
    asp_holder_name(name)
    return name


class InvalidBankDetails(ValueError):
    def __init__(self, errors: list[RibError]) -> None:
        super().__init__(", ".join(e.code for e in errors))
        self.errors = errors


def check_bank_details(owner_type: OwnerType, holder_name: str, iban: str, bic: str) -> BankDetails:
    """Every field is checked, so one report lists all refusals of a row."""
    errors: list[RibError] = []
    checked: dict[str, str] = {}
    for field, check, value in (("holder_name", check_holder_name, holder_name), ("iban", check_iban, iban),
                                ("bic", check_bic, bic)):
        try:
            checked[field] = check(value)
        except RibError as exc:
            errors.append(exc)
    if errors:
        raise InvalidBankDetails(errors)
    return BankDetails(owner_type, checked["holder_name"], checked["iban"], checked["bic"])
