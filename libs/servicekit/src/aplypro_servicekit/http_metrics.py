"""Requests of an HTTP process (the web application, the internal APIs), for Prometheus: an ASGI middleware.

Counted by the matched route's path template (`/etablissements/{uai}/eleves/{student_id}`), never the raw
path: paths carry ids, and a label per id would grow without bound. A path no route matches counts as
`<unmatched>`; a method outside the standard ones as `OTHER`; the status by class (`2xx`...`5xx`). A request
that raises before answering counts as `5xx` (what the server error handler then answers).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram, disable_created_metrics
from starlette.types import ASGIApp, Message, Receive, Scope, Send

disable_created_metrics()  # type: ignore[no-untyped-call]  # as metrics.py: no `_created` series

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "aplypro_http_requests", "HTTP requests answered, per process (app), route template, method and status class.",
    ["app", "route", "method", "status"])
HTTP_REQUEST_SECONDS = Histogram(
    "aplypro_http_request_seconds", "Time to answer an HTTP request (to the body's last byte), per app, route "
    "template and method.", ["app", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def route_template(scope: Scope) -> str:
    """The path template of the route the router matched (Starlette leaves it in the scope), or UNMATCHED."""
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) and template else UNMATCHED


class HttpMetrics:
    """Pure ASGI (no BaseHTTPMiddleware): a streamed download is timed to its end and never buffered."""

    def __init__(self, app: ASGIApp, *, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless the application answers
        started = time.perf_counter()

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = route_template(scope)
            HTTP_REQUESTS.labels(self.name, route, method, f"{status // 100}xx").inc()
            HTTP_REQUEST_SECONDS.labels(self.name, route, method).observe(time.perf_counter() - started)
