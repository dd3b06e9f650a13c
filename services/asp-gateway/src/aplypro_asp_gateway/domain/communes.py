"""The residence-commune exception table (asp-exchange.md §4.4, §4.6): an operator-maintained map from the INSEE
code of an outdated or merged commune (5 characters) to the code the ASP knows, applied to every `CODECOMINSEE`
we send (France, Etranger, InduFrance, CorrectionFrance) and never to the birth commune (`CODEINSEECOMMUNE`,
which has its own Saint-Martin rule, §4.6).

An entry is how the school's fix for `outdated_insee_code` (§6.1) reaches the ASP without waiting for the
student's source record: the operator adds `old → new`, and the next build sends `new`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from aplypro_asp_gateway.domain.model import (
    Address,
    CorrectionFranceAddress,
    EtrangerAddress,
    FranceAddress,
    InduFranceAddress,
)

# INSEE commune codes: five characters, digits but Corsica's 2A/2B department prefix (§4.4 facet s1-5).
COMMUNE_CODE = re.compile(r"^(?:\d{2}|2[AB])\d{3}$")
_WITH_COMMUNE = (FranceAddress, EtrangerAddress, InduFranceAddress, CorrectionFranceAddress)


def table_errors(table: Mapping[str, str]) -> list[str]:
    """Each entry that is not `5-character code → 5-character code` (a typo would silently send the old code)."""
    return [f"{entry!r}: {exit_code!r}" for entry, exit_code in sorted(table.items())
            if not (COMMUNE_CODE.match(entry) and COMMUNE_CODE.match(exit_code))]


def residence_commune(code: str, table: Mapping[str, str]) -> str:
    return table.get(code, code)


def with_exceptions(address: Address, table: Mapping[str, str]) -> Address:
    """The address with its `CODECOMINSEE` passed through the table; an address without one (InduEtranger) as is."""
    if not table or not isinstance(address, _WITH_COMMUNE):
        return address
    commune = residence_commune(address.commune, table)
    return address if commune == address.commune else replace(address, commune=commune)
