"""The two GETs a national import makes by the hundred thousand (list and detail), answered without the
framework: FastAPI's routing and request objects cost the fake more than the answer itself, and the fake's own
serving rate is the yardstick of `bench/students_import.py`. Same status codes, bodies and counters as the
routes in `app.py`, which still serve everything else, and these two whenever a fault is pending."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aplypro_local.fake_sygne.state import FakeSygneState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]
_DETAIL, _LIST = "/api/eleves/", "/api/etablissements/"


def _body(data: Any) -> bytes:
    # as starlette's JSONResponse renders it, so both paths serve the same bytes
    return json.dumps(data, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def _token(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value).decode("latin-1").removeprefix("Bearer ")
    return ""


def _year(scope: Scope) -> str:
    for pair in bytes(scope["query_string"]).decode().split("&"):
        key, _, value = pair.partition("=")
        if key == "annee-scolaire":
            return value
    return ""


def with_fast_path(app: Asgi, state: FakeSygneState) -> Asgi:
    """`app` with the list and detail GETs short-cut while no fault is pending."""

    async def answer(send: Send, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def fast(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" and scope["method"] == "GET" else ""
        rest = path[len(_DETAIL):] if path.startswith(_DETAIL) else ""
        is_detail = bool(rest) and "/" not in rest
        uai = path[len(_LIST):-len("/eleves")] if path.startswith(_LIST) and path.endswith("/eleves") else ""
        if state.faults or not (is_detail or ("/" not in uai and uai)):
            await app(scope, receive, send)
            return
        state.count("detail" if is_detail else "list")
        if not state.token_valid(_token(scope)):
            state.count("401")
            await answer(send, 401, _body({"message": "invalid or expired token"}))
        elif is_detail:
            detail = state.details.get(rest)
            await answer(send, 200 if detail is not None else 404,
                         _body(detail if detail is not None else {"message": "not found"}))
        else:
            year = _year(scope)
            await answer(send, 200, _body((state.lists.get((uai, int(year))) if year.isdigit() else None) or []))

    return fast
