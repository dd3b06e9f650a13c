"""RNVP, the national address normalisation (asp-exchange.md §4.9): what we ask per student and what its answer
becomes in an address-correction file (§4.4 "CorrectionFrance").

Only for students living in France; a student RNVP has nothing for is not sent (§4.9). The port (`Rnvp`) has
one job: one query, the normalised address or None. Adapters: adapters/rnvp.py (HTTP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aplypro_asp_gateway.domain import text
from aplypro_asp_gateway.domain.abbreviate import abbreviate
from aplypro_asp_gateway.domain.model import CorrectionFranceAddress

STREET_LIMIT = 28  # LIBELLEVOIE
LINE_LIMIT = 38  # CPLTDISTRIBUTION
ROAD_TYPE_LIMIT = 4  # CODETYPEVOIE
# CODEEXTENSIONVOIE: the ASP's one-letter codes; any other voieBis goes to CPLTDISTRIBUTION (§4.4).
EXTENSIONS = {"BIS": "B", "TER": "T", "QUATER": "Q", "QUINQUIES": "C"}
NOT_FOUND = "rnvp_address_not_found"  # reported, the PFMP is left out of the file


@dataclass(frozen=True)
class RnvpQuery:
    """One student's address as we hold it: `ligne2` = address line 1, `ligne3` = line 2 (§4.9)."""

    id: str  # ours, echoed back: the PFMP id (never personal data)
    ligne2: str | None
    ligne3: str | None
    code_postal: str | None
    code_insee: str | None
    localite: str | None


@dataclass(frozen=True)
class RnvpAnswer:
    """The fields of RNVP's answer the correction file uses (§4.9)."""

    voie_num: str | None = None
    voie_bis: str | None = None
    voie_type: str | None = None
    voie_den: str | None = None
    ligne3: str | None = None
    code_postal: str | None = None
    code_insee: str | None = None


class Rnvp(Protocol):
    async def normalise(self, query: RnvpQuery) -> RnvpAnswer | None:
        """The normalised address, or None when RNVP has nothing for it; RnvpUnavailable when it cannot say."""
        ...


def _clean(value: str | None) -> str:
    return text.squeeze(text.transliterate(value or "").replace(";", " ")).upper()


def correction_france(answer: RnvpAnswer, stored_commune: str | None, reasons: list[str]) -> CorrectionFranceAddress | None:
    """§4.4 CorrectionFrance from RNVP's answer, or None with the reasons appended (an answer without a street
    name or a postal code is "nothing found")."""
    number, bis, road, street = (_clean(v) for v in (answer.voie_num, answer.voie_bis, answer.voie_type,
                                                     answer.voie_den))
    postal_code = _clean(answer.code_postal)
    commune = _clean(answer.code_insee) or (stored_commune or "").strip()
    if not street or not postal_code:
        reasons.append(NOT_FOUND)
        return None
    if not commune:
        reasons.append("missing_address_city_insee_code")
        return None
    if number and not number.isdigit():
        reasons.append("rnvp_answer_unusable")  # NUMEROVOIE is an xsd:long
        return None
    extension = EXTENSIONS.get(bis)
    road_type = _road_type(road)
    if road and road_type is None:
        complement = " ".join(p for p in (number, road, street) if p)  # 15 BOUCLE DES PRES DE SAINT PIERRE
    else:
        complement = " ".join(p for p in (bis if bis and extension is None else "", _clean(answer.ligne3)) if p)
    short_street, short_complement = abbreviate(street, STREET_LIMIT), abbreviate(complement or None, LINE_LIMIT)
    if (short_street is None or len(short_street) > STREET_LIMIT
            or (short_complement is not None and len(short_complement) > LINE_LIMIT)):
        reasons.append("address_too_long")
        return None
    return CorrectionFranceAddress(street=short_street, postal_code=postal_code, commune=commune,
                                   number=int(number) if number else None, extension=extension,
                                   road_type=road_type, complement=short_complement)


def _road_type(road: str) -> str | None:
    """voieType kept when it fits in 4 characters, else its road-type abbreviation when that fits, else None."""
    if not road:
        return None
    if len(road) <= ROAD_TYPE_LIMIT:
        return road
    short = abbreviate(road, ROAD_TYPE_LIMIT, road_types=True)
    return short if short is not None and len(short) <= ROAD_TYPE_LIMIT else None
