"""The fake FREGATA's HTTP surface: GET inscriptions (signed), and an admin API for faults and counters."""

from __future__ import annotations

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from aplypro_local.fake_fregata.signature import signature_ok
from aplypro_local.fake_fregata.state import FakeFregataState, Fault

# what the client must ask (imports.md §3.2): any other value is a client bug, answered 400
FIXED_PARAMS = {"idStatutApprenant": "2", "seulementAvecDivision": "true"}


def create_app(state: FakeFregataState) -> FastAPI:
    app = FastAPI(title="fake FREGATA", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/inscriptions")
    async def inscriptions(request: Request) -> Response:
        state.count("inscriptions")
        fault = state.take_fault(request.url.path)
        if fault is not None:
            if fault.delay:
                await anyio.sleep(fault.delay)
            if fault.status is not None:
                state.count(str(fault.status))
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return JSONResponse({"message": "injected fault"}, status_code=fault.status, headers=headers)
        if not signature_ok(request.headers, key_id=state.key_id, secret=state.secret,
                            max_skew=state.max_clock_skew):
            state.count("bad_signature")
            return JSONResponse({"message": "invalid signature"}, status_code=401)
        query = request.query_params
        year, rne = query.get("anneeScolaireId", ""), query.get("rne", "")
        if any(query.get(k) != v for k, v in FIXED_PARAMS.items()) or not year.isdigit() or not rne:
            state.count("400")
            return JSONResponse({"message": "bad parameters"}, status_code=400)
        return JSONResponse(state.inscriptions.get((rne, int(year)), []))

    @app.post("/_admin/faults")
    async def add_fault(status: int | None = None, times: int = 1, path: str = "", retry_after: str | None = None,
                        delay: float = 0.0) -> dict[str, int]:
        """Query-driven fault injection for a fake run in another process (`aplypro up`, the demo)."""
        state.inject(Fault(status, times, path, retry_after, delay))
        return {"pending": len(state.faults)}

    @app.get("/_admin/stats")
    async def stats() -> dict[str, int]:
        return dict(state.requests)

    return app
