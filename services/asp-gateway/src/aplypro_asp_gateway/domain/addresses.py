"""The address block of a record, per §4.4 variant, with the rules of §7.5 (abbreviation) and §7.6 (abroad).

Normal payment: France (the student's codes) or Etranger (the establishment's commune and postal code, the
foreign address itself is not sent). Rectification: InduFrance or InduEtranger, with street lines so the ASP
can mail a recovery order. Each function returns the address, or None after appending every blocking reason.
"""

from __future__ import annotations

from aplypro_asp_gateway.domain import codes, text
from aplypro_asp_gateway.domain.abbreviate import abbreviate
from aplypro_asp_gateway.domain.model import (
    Address,
    EtrangerAddress,
    FranceAddress,
    InduEtrangerAddress,
    InduFranceAddress,
    Schooling,
    Student,
)

STREET_LIMIT = 28  # LIBELLEVOIE
LINE_LIMIT = 38  # CPLTDISTRIBUTION and every foreign field


def lives_in_france(student: Student, reasons: list[str]) -> bool | None:
    """None when the country is missing or malformed (reason appended); an unusable code counts as abroad."""
    if not (student.country_insee or "").strip():
        reasons.append("missing_address_country_code")
        return None
    try:
        return codes.insee_country(student.country_insee or "") == codes.FRANCE
    except codes.CodeError as exc:
        if exc.code != "unusable_country_code":
            reasons.append(exc.code)
            return None
        return False


def payment_address(student: Student, schooling: Schooling | None, reasons: list[str]) -> Address | None:
    """Normal payment: France, or Etranger with the establishment's codes (§4.4, §7.6)."""
    in_france = lives_in_france(student, reasons)
    if in_france is None:
        return None
    if in_france:
        return _france(student, reasons)
    if schooling is None:
        return None  # missing_schooling is the caller's reason
    commune = (schooling.establishment_city_insee or "").strip()
    postal_code = (schooling.establishment_postal_code or "").strip()
    if not commune:
        reasons.append("missing_establishment_city_insee_code")
    if not postal_code:
        reasons.append("missing_establishment_postal_code")
    return EtrangerAddress(commune=commune, postal_code=postal_code) if commune and postal_code else None


def indu_address(student: Student, reasons: list[str]) -> Address | None:
    """Rectification: the student's own street lines, in France or abroad (§4.4 Indu variants, §7.5, §7.6)."""
    in_france = lives_in_france(student, reasons)
    if in_france is None:
        return None
    lines = [_clean(line) for line in student.address_lines[:2]]
    line1, line2 = [*lines, None, None][:2]
    if in_france:
        france = _france(student, reasons)
        street = _fit(line1 or line2, STREET_LIMIT, reasons)
        complement = _fit(line2, LINE_LIMIT, reasons) if line1 else None
        if not (line1 or line2):
            reasons.append("missing_address_line")
        if france is None or street is None or (line1 and line2 and complement is None):
            return None
        return InduFranceAddress(street=street, complement=complement, postal_code=france.postal_code,
                                 commune=france.commune)
    return _indu_abroad(student, line1, line2, reasons)


def _indu_abroad(student: Student, line1: str | None, line2: str | None,
                 reasons: list[str]) -> InduEtrangerAddress | None:
    try:
        country = codes.insee_country(student.country_insee or "")
    except codes.CodeError:
        reasons.append("unusable_address_country_code")  # 990/995 cannot be sent as the real country
        return None
    city, postal_code = _clean(student.city_name), _clean(student.postal_code)
    if not city or not postal_code:
        reasons.append("incomplete_foreign_address")
    # City and postal code are never abbreviated: too long blocks the record (§7.6).
    if any(value and len(value) > LINE_LIMIT for value in (city, postal_code)):
        reasons.append("address_too_long")
        return None
    street, district = _fit(line1, LINE_LIMIT, reasons), _fit(line2, LINE_LIMIT, reasons)
    if not city or not postal_code or (line1 and street is None) or (line2 and district is None):
        return None
    return InduEtrangerAddress(country=country, city=city, postal_code=postal_code, street=street,
                               district=district)


def _france(student: Student, reasons: list[str]) -> FranceAddress | None:
    postal_code, commune = (student.postal_code or "").strip(), (student.city_insee or "").strip()
    if not postal_code:
        reasons.append("missing_address_postal_code")
    if not commune:
        reasons.append("missing_address_city_insee_code")
    return FranceAddress(postal_code=postal_code, commune=commune) if postal_code and commune else None


def _clean(line: str | None) -> str | None:
    """ASCII first (a ligature expands, so lengths are checked on what is sent), `;` as a space (§4.2)."""
    cleaned = text.squeeze(text.transliterate(line or "").replace(";", " "))
    return cleaned or None


def _fit(line: str | None, limit: int, reasons: list[str]) -> str | None:
    """The line abbreviated to fit, or None with `address_too_long` (nothing is ever cut, §7.5)."""
    short = abbreviate(line, limit)
    if short is not None and len(short) > limit:
        reasons.append("address_too_long")
        return None
    return short
