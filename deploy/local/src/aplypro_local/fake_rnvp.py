"""A fake RNVP, the national address normalisation (asp-exchange.md §4.9), over real HTTP: what the gateway's
address-correction file asks for every student living in France.

`POST /normaliser` with `id`, `ligne2` (address line 1), `ligne3` (line 2), `codePostal`, `codeInsee`,
`localite` → `200` with `voieNum`, `voieBis`, `voieType`, `voieDen`, `ligne3`, `codePostal`, `codeInsee`, or
`404` when it has nothing (no street line, or an id in `not_found`). Its normalisation is a small imitation:
ASCII upper case, the number, its extension and the road type split off line 1, a few words of line 2
abbreviated. Tests start it with `serve(state)` and read `state.queries`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from aplypro_local.http_thread import serving

ROAD_TYPES = ("RUE", "AVENUE", "BOULEVARD", "BOUCLE", "ALLEE", "IMPASSE", "CHEMIN", "PLACE", "ROUTE", "QUAI",
              "COURS", "SQUARE", "CHAUSSEE", "PASSAGE", "RESIDENCE", "LOTISSEMENT", "HAMEAU")
EXTENSIONS = ("BIS", "TER", "QUATER", "QUINQUIES", "A", "B", "C")
LINE3_WORDS = {"APPARTEMENT": "APP", "RESIDENCE": "RES", "BATIMENT": "BAT", "ESCALIER": "ESC", "ETAGE": "ETG"}
_LINE1 = re.compile(rf"^(?:(\d+)\s*(?:({'|'.join(EXTENSIONS)})\s+)?)?(?:({'|'.join(ROAD_TYPES)})\s+)?(.+)$")


@dataclass
class FakeRnvpState:
    not_found: set[str] = field(default_factory=set)  # query ids RNVP has nothing for
    status: int = 200  # anything else: every query answered with it (503: RNVP down)
    queries: list[dict[str, Any]] = field(default_factory=list)  # every query received, in order


def _words(text: str | None) -> str:
    ascii_text = "".join(c for c in unicodedata.normalize("NFKD", text or "") if c.isascii()).upper()
    return " ".join(re.sub(r"[^A-Z0-9]", " ", ascii_text).split())


def normalise(query: dict[str, Any]) -> dict[str, Any] | None:
    line1 = _words(query.get("ligne2"))
    found = _LINE1.match(line1) if line1 else None
    if found is None:
        return None
    number, extension, road, street = found.groups()
    line3 = " ".join(LINE3_WORDS.get(w, w) for w in _words(query.get("ligne3")).split()) or None
    return {"voieNum": number, "voieBis": extension, "voieType": road, "voieDen": street, "ligne3": line3,
            "codePostal": query.get("codePostal"), "codeInsee": query.get("codeInsee")}


def app(state: FakeRnvpState) -> FastAPI:
    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @api.post("/normaliser")
    async def normaliser(request: Request) -> Response:
        query = await request.json()
        state.queries.append(query)
        if state.status != 200:
            return Response(status_code=state.status)
        answer = None if str(query.get("id")) in state.not_found else normalise(query)
        return JSONResponse(answer) if answer is not None else Response(status_code=404)

    return api


@contextmanager
def serve(state: FakeRnvpState | None = None) -> Iterator[tuple[str, FakeRnvpState]]:
    """The fake on a loopback port: yields its base URL (the gateway's APLYPRO_ASP_RNVP_URL) and its state."""
    state = state or FakeRnvpState()
    with serving(app(state), "fake RNVP") as url:
        yield url, state


def main() -> None:
    """`python -m aplypro_local.fake_rnvp`: serve until Ctrl-C, printing the gateway's setting."""
    from aplypro_local.http_thread import print_settings_until_interrupted

    with serve() as (url, _):
        print_settings_until_interrupted({"APLYPRO_ASP_RNVP_URL": url})


if __name__ == "__main__":
    main()
