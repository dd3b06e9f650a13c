"""Jinja filters: the only place where cents become euros and dates become French text."""

from datetime import date

from aplypro_documents.domain.model import Ministry, PostalAddress, Student

NBSP = "\u00a0"
NARROW_NBSP = "\u202f"  # French thousands separator
MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
MINISTRY_NAMES = {
    Ministry.MENJ: "Ministère de l'Éducation nationale et de la Jeunesse",
    Ministry.MASA: "Ministère de l'Agriculture et de la Souveraineté alimentaire",
    Ministry.MER: "Secrétariat d'État chargé de la Mer",
    Ministry.ARMEES: "Ministère des Armées",
}


def euros(cents: int) -> str:
    """`52500` -> `525 €`; amounts are whole euros (calculation.md), cents shown only if present."""
    whole, rest = divmod(cents, 100)
    text = f"{whole:,}".replace(",", NARROW_NBSP)
    if rest:
        # Never round silently: a non-whole amount is printed exactly.
        text += f",{rest:02d}"
    return f"{text}{NBSP}€"


def short_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def long_date(value: date) -> str:
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


def school_year(start_year: int) -> str:
    return f"{start_year}-{start_year + 1}"


def one_line(address: PostalAddress) -> str:
    parts = [part.strip() for part in (address.line1, address.line2, address.postcode, address.city)]
    return ", ".join(part for part in parts if part) or "adresse inconnue"


def full_name(student: Student) -> str:
    """LAST NAME First names, as printed after *Bénéficiaire*."""
    return f"{student.last_name.upper()} {student.first_names}".strip()


def ministry_name(ministry: Ministry | str) -> str:
    return MINISTRY_NAMES[Ministry(ministry)]


FILTERS = {
    "euros": euros,
    "short_date": short_date,
    "long_date": long_date,
    "school_year": school_year,
    "one_line": one_line,
    "full_name": full_name,
    "ministry_name": ministry_name,
}
