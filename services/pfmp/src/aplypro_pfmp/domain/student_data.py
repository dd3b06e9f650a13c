"""Whether a student's data is ready for the ASP, as the `students_data_count` indicator counts it (features.md
§4): sex known, a usable birthplace (a country, and the commune's INSEE code if born in France), a usable
address (a country, and the postcode and commune's INSEE code if living in France). The INE's validity is the
students service's answer (StudentIneStatusChanged), joined by the indicators' SQL; here only a blank INE fails.

A presence check for a statistic, not the asp-gateway's payment gate (which also maps and dates the codes).
Pure; the result is a yes/no, so pfmp keeps no birth data or address.
"""

from __future__ import annotations

from aplypro_contracts.students import Identity

# INSEE country code of France; the short form "100" also occurs in the schools' data (SIECLE).
FRANCE = frozenset({"99100", "100"})


def _given(value: str | None) -> bool:
    return bool((value or "").strip())


def asp_data_ready(identity: Identity) -> bool:
    if not _given(identity.ine) or identity.sex == "unknown":
        return False
    birth_country = (identity.birth_country_insee or "").strip()
    if not birth_country or (birth_country in FRANCE and not _given(identity.birth_city_insee)):
        return False
    address = identity.address
    country = (address.country_insee or "").strip()
    if not country:
        return False
    return country not in FRANCE or (_given(address.postal_code) and _given(address.city_insee))
