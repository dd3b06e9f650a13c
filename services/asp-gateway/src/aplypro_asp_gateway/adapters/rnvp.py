"""RNVP over HTTP (asp-exchange.md §4.9): one POST per student living in France, the normalised address back.

The wire, ours until the RNVP's own contract is known here (§11): `POST {base}/normaliser` with the query as
JSON (`id`, `ligne2`, `ligne3`, `codePostal`, `codeInsee`, `localite`); `200` with the answer's fields
(`voieNum`, `voieBis`, `voieType`, `voieDen`, `ligne3`, `codePostal`, `codeInsee`) or `404` (nothing found).
An address travels in the body only, never in a URL, and neither the request nor the answer reaches a log or
an exception (personal data): a failure says the status or the error class, nothing else.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import httpx2

from aplypro_asp_gateway.domain.errors import RnvpUnavailable
from aplypro_asp_gateway.domain.rnvp import RnvpAnswer, RnvpQuery

for _name in ("httpx", "httpx2", "httpcore", "httpcore2"):  # their INFO lines carry URLs; never the bodies anyway
    logging.getLogger(_name).setLevel(logging.WARNING)

PATH = "normaliser"
_FIELDS = {"voie_num": "voieNum", "voie_bis": "voieBis", "voie_type": "voieType", "voie_den": "voieDen",
           "ligne3": "ligne3", "code_postal": "codePostal", "code_insee": "codeInsee"}


class HttpRnvp:
    """`async with HttpRnvp(base_url) as rnvp: await rnvp.normalise(query)`."""

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self._http = httpx2.AsyncClient(base_url=base_url.rstrip("/") + "/", timeout=httpx2.Timeout(timeout_s))

    async def __aenter__(self) -> HttpRnvp:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._http.aclose()

    async def normalise(self, query: RnvpQuery) -> RnvpAnswer | None:
        body = {"id": query.id, "ligne2": query.ligne2, "ligne3": query.ligne3, "codePostal": query.code_postal,
                "codeInsee": query.code_insee, "localite": query.localite}
        try:
            response = await self._http.post(PATH, json=body)
        except httpx2.HTTPError as exc:
            raise RnvpUnavailable(f"RNVP could not be reached ({type(exc).__name__})") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RnvpUnavailable(f"RNVP answered HTTP {response.status_code}")
        try:
            found: Any = response.json()
        except ValueError:
            raise RnvpUnavailable("RNVP's answer is not JSON") from None
        if not isinstance(found, dict):
            raise RnvpUnavailable("RNVP's answer is not a JSON object")
        values = {ours: _text(found.get(theirs)) for ours, theirs in _FIELDS.items()}
        return RnvpAnswer(**values) if any(values.values()) else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None
