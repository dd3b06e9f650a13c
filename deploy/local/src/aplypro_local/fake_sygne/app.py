"""The fake SYGNE's HTTP surface: POST token (client credentials), the three GETs, and an admin API for faults."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from aplypro_local.fake_sygne.state import CLIENT_ID, SECRET, FakeSygneState, Fault


def _client_ok(request: Request, form: dict[str, Any]) -> bool:
    """client_secret_basic (authlib's default) or client_secret_post."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return (user, password) == (CLIENT_ID, SECRET)
    return (form.get("client_id"), form.get("client_secret")) == (CLIENT_ID, SECRET)


def create_app(state: FakeSygneState) -> FastAPI:
    app = FastAPI(title="fake SYGNE", openapi_url=None, docs_url=None, redoc_url=None)

    async def faulted(path: str) -> Response | None:
        fault = state.take_fault(path)
        if fault is None:
            return None
        if fault.delay:
            await anyio.sleep(fault.delay)
        if fault.status is None:
            return None
        state.count(str(fault.status))
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        refused = path == "token" and fault.status in (400, 401)  # as an OAuth2 server refuses a client
        body = {"error": "invalid_client"} if refused else {"message": "injected fault"}
        return JSONResponse(body, status_code=fault.status, headers=headers)

    async def authorised(request: Request, what: str) -> Response | None:
        state.count(what)
        if (answer := await faulted(request.url.path)) is not None:
            return answer
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not state.token_valid(token):
            state.count("401")
            return JSONResponse({"message": "invalid or expired token"}, status_code=401)
        return None

    @app.post("/token")
    async def token(request: Request) -> Response:
        # the form is parsed here rather than by starlette, which would need python-multipart
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if (answer := await faulted("token")) is not None:
            state.count("token_fault")
            return answer
        if form.get("grant_type") != "client_credentials" or not _client_ok(request, form):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        access_token, ttl = state.issue_token()
        return JSONResponse({"access_token": access_token, "token_type": "Bearer", "expires_in": ttl})

    @app.get("/api/etablissements/{uai}/eleves")
    async def establishment(uai: str, request: Request) -> Response:
        if (answer := await authorised(request, "list")) is not None:
            return answer
        year = request.query_params.get("annee-scolaire", "")
        students = state.lists.get((uai, int(year))) if year.isdigit() else None
        return JSONResponse(students or [])

    @app.get("/api/eleves/{ine}")
    async def detail(ine: str, request: Request) -> Response:
        if (answer := await authorised(request, "detail")) is not None:
            return answer
        if ine not in state.details:
            return JSONResponse({"message": "not found"}, status_code=404)
        return JSONResponse(state.details[ine])

    @app.get("/api/eleves/{ine}/scolarites")
    async def history(ine: str, request: Request) -> Response:
        if (answer := await authorised(request, "history")) is not None:
            return answer
        if ine not in state.histories:
            return JSONResponse({"message": "not found"}, status_code=404)
        return JSONResponse({"ine": ine, "scolarites": state.histories[ine]})

    @app.post("/_admin/faults")
    async def add_fault(status: int | None = None, times: int = 1, path: str = "", retry_after: str | None = None,
                        delay: float = 0.0) -> dict[str, int]:
        """Query-driven fault injection for a fake run in another process (`aplypro up`, the demo)."""
        state.inject(Fault(status, times, path, retry_after, delay))
        return {"pending": len(state.faults)}

    @app.post("/_admin/revoke")
    async def revoke() -> dict[str, bool]:
        state.revoke_tokens()
        return {"revoked": True}

    @app.get("/_admin/stats")
    async def stats() -> dict[str, int]:
        return dict(state.requests)

    return app
