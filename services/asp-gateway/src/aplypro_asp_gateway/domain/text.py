"""Text rules of the payment file: ASCII transliteration, names and the account holder (§4.1, §7.3)."""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose; ligatures expand (an expanding character is why we cut *after*).
_SPECIAL = str.maketrans({
    "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "ß": "ss", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d",
    "Ł": "L", "ł": "l", "Þ": "TH", "þ": "th", "Ð": "D", "ð": "d", "ı": "i",
    "’": "'", "‘": "'", "´": "'", "“": '"', "”": '"', "«": '"', "»": '"', "–": "-", "—": "-",
})
_SPACES = re.compile(r"\s+")

NAME_LIMITS = {"PRENOM": 20, "NOMUSAGE": 50, "NOMNAISSANCE": 50}
HOLDER_LIMIT = 32


def has_control_characters(text: str) -> bool:
    """C0, DEL and C1 controls: no name or code holds one legitimately, and lxml refuses most of them.

    The contracts refuse them now, but rows projected before that may still hold one (§7.4, issue 9).
    """
    return any(unicodedata.category(char) == "Cc" for char in text)


def transliterate(text: str, *, unknown: str = "?") -> str:
    """ASCII only: accents dropped, ligatures expanded, anything else replaced by `unknown`."""
    out: list[str] = []
    for char in unicodedata.normalize("NFKD", text.translate(_SPECIAL)):
        if char.isascii():
            out.append(char)
        elif not unicodedata.combining(char):
            out.append(unknown)
    return "".join(out)


def squeeze(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def cut(text: str, limit: int) -> str:
    return text[:limit].rstrip()


def file_name_field(text: str, limit: int) -> str:
    """A name field (`PRENOM`, `NOMUSAGE`…): transliterated, then cut, never holding `;`, tab or `¨`."""
    # The XSD pattern is [^\t¨;]*: `;` becomes a space rather than breaking the whole file.
    return cut(squeeze(transliterate(text).replace(";", " ")), limit)


def first_names_field(first_names: tuple[str, ...]) -> str:
    """First names 1–3 joined with ", ", empty ones skipped (§4.2)."""
    names = [squeeze(n) for n in first_names[:3] if n.strip()]
    return file_name_field(", ".join(names), NAME_LIMITS["PRENOM"])


# §7.3, in order: substitutions of the existing pipeline, transliterate, keep ASP's set, squeeze, cut.
_HOLDER_SUBSTITUTIONS = str.maketrans({"–": "-", "—": "-", "´": "'", "’": "'", ";": " ", "\u00ad": " ",
                                       "^": None, ">": None})
_HOLDER_FORBIDDEN = re.compile(r"[^A-Za-z0-9 /\-?:().,'+]")


def holder_name(text: str) -> str:
    """`INTITDEST`: an empty result means the name cannot be sent (the record is blocked)."""
    ascii_text = transliterate(text.translate(_HOLDER_SUBSTITUTIONS), unknown="")
    # Whitespace becomes a space before filtering so "A\tB" stays two words.
    kept = _HOLDER_FORBIDDEN.sub("", _SPACES.sub(" ", ascii_text))
    return cut(squeeze(kept), HOLDER_LIMIT)
