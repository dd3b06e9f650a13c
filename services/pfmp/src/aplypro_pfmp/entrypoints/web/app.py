"""The web application, assembled: session cookie, security headers, CSRF on every route, OIDC login, the
staff pages, the vendored DSFR; one database pool on pfmp's schema for its lifetime; requests counted by route
template, served with the process's metrics on the ops port (APLYPRO_WEB_OPS_PORT), not on the pages' port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.http_metrics import HttpMetrics
from aplypro_servicekit.http_ops import ops_port
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from aplypro_pfmp.config import PfmpSettings

from . import (
    academic_api,
    academic_exports,
    academic_invitations,
    academic_pages,
    academic_reports,
    api,
    asp_api,
    asp_liquidation,
    asp_pages,
    auth,
    class_pages,
    dashboard_pages,
    day_counts,
    decision_pages,
    director_pages,
    download_pages,
    health,
    hide_pages,
    pages,
    payments_pages,
    pfmp_pages,
    rib_pages,
    search_pages,
    staff_pages,
    stats_pages,
)
from .documents_client import DocumentsClient, DocumentsUnavailable
from .rendering import render, templates
from .security import LoginRequired, RateLimiter, check_csrf
from .settings import WebSettings

# The DSFR needs its own files only; inline data: images come from its CSS.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "form-action 'self' {issuers}; frame-ancestors 'none'; base-uri 'self'")
TITLES = {403: "Accès refusé", 404: "Page introuvable", 405: "Adresse d'un formulaire", 422: "Demande invalide",
          500: "Erreur inattendue"}
# What the user can do about each error (issue 14: every error says what to do); 403 and 429 say it themselves.
WHAT_TO_DO = {
    404: "Cette page n'existe pas ou ne relève pas de votre établissement. Vérifiez l'adresse, ou repartez de "
         "l'accueil pour choisir l'établissement, la classe puis l'élève.",
    405: "Cette adresse sert à envoyer un formulaire et ne s'ouvre pas seule : revenez à la page précédente et "
         "renvoyez le formulaire avec son bouton.",
    422: "Le formulaire est incomplet ou mal rempli : revenez à la page précédente, vérifiez-le et renvoyez-le.",
}
RETRY = ("Réessayez dans quelques minutes ; si l'erreur se reproduit, signalez-la à l'assistance en indiquant "
         "l'heure et la page.")


def create_app(pfmp_settings: PfmpSettings | None = None, web_settings: WebSettings | None = None) -> FastAPI:
    pfmp_settings = pfmp_settings or PfmpSettings()
    web = web_settings or WebSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        schema = pfmp_settings.db_schema("pfmp")
        pool = await create_pool(pfmp_settings.database_url, schema, size=pfmp_settings.db_pool_size)
        if web.migrate:  # else `aplypro-pfmp run` migrates and /readyz waits for it (health.py)
            await migrate(pool, schema, health.MIGRATION_PACKAGES)
        app.state.pool = pool
        app.state.documents = DocumentsClient(web)
        try:
            async with ops_port(pfmp_settings.ops_host, web.ops_port, lambda: health.readiness(pool)) as ops:
                app.state.ops_server = ops
                yield
        finally:
            await app.state.documents.aclose()
            await pool.close()

    app = FastAPI(title="APLyPro", lifespan=lifespan, dependencies=[Depends(check_csrf)],
                  docs_url=None, redoc_url=None, openapi_url=None)  # pages only in this slice
    app.state.pfmp_settings = pfmp_settings
    app.state.web_settings = web
    app.state.realms = web.login_realms()
    app.state.oauth = auth.oauth_client(web)
    app.state.login_limiter = RateLimiter(web.login_attempts_per_minute)
    app.add_middleware(SessionMiddleware, secret_key=web.session_secret.get_secret_value(),
                       session_cookie="aplypro_session", max_age=web.session_max_age_s, same_site="lax",
                       https_only=web.cookie_secure)  # HttpOnly always (Starlette)
    csp = CSP.format(issuers=" ".join(sorted({r.issuer.rstrip("/") for r in app.state.realms.values()})))

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if request.url.path != "/" and not request.url.path.startswith("/static"):
            response.headers["Cache-Control"] = "no-store"  # pages hold personal data
        return response

    # Outermost of ours: the time includes the session and the headers; the route is the matched template.
    app.add_middleware(HttpMetrics, name="web")

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if is_api(request):
            return JSONResponse({"detail": "login required"}, status_code=401)
        return RedirectResponse(request.url_for("home"), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request):
            return JSONResponse({"detail": TITLES.get(exc.status_code, "error")}, status_code=exc.status_code)
        said = exc.detail if exc.status_code in (403, 429) and isinstance(exc.detail, str) else None
        message = said or WHAT_TO_DO.get(exc.status_code, f"Une erreur est survenue. {RETRY}")
        return render(request, "error.html", {"title": TITLES.get(exc.status_code, "Erreur"), "message": message,
                                              "status": exc.status_code}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Starlette still logs the exception; the page says what to do and never the exception's text. It runs
        # outside the session middleware: no user, no form on this page.
        if is_api(request):
            return JSONResponse({"detail": "internal error, retry in a few minutes"}, status_code=500)
        try:
            return templates.TemplateResponse(request, "error.html", {
                "user": None, "csrf_token": "", "messages": [], "title": TITLES[500], "status": 500,
                "message": "Une erreur inattendue a interrompu votre demande. " + RETRY}, status_code=500)
        except Exception:  # the page itself cannot be drawn: plain words, still what to do
            return PlainTextResponse("Erreur inattendue : réessayez dans quelques minutes.", status_code=500)

    @app.exception_handler(DocumentsUnavailable)
    async def documents_unavailable(request: Request, exc: DocumentsUnavailable) -> Response:
        if is_api(request):
            return JSONResponse({"detail": "documents unavailable, retry in a few minutes"}, status_code=503)
        return render(request, "error.html", {"title": "Documents indisponibles", "status": 503, "message":
                      "Le service des documents ne répond pas : réessayez dans quelques minutes."}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # A malformed path (a UAI or an id that cannot exist) is a page that does not exist.
        return await http_error(request, HTTPException(404))

    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(health.build_router())
    app.include_router(auth.build_router())
    app.include_router(pages.build_router())
    app.include_router(pfmp_pages.build_router())
    app.include_router(class_pages.build_router())
    app.include_router(day_counts.build_router())
    app.include_router(director_pages.build_router())
    app.include_router(decision_pages.build_router())
    app.include_router(api.build_router())
    app.include_router(rib_pages.build_router())
    app.include_router(search_pages.build_router())
    app.include_router(dashboard_pages.build_router())
    app.include_router(payments_pages.build_router())
    app.include_router(hide_pages.build_router())
    app.include_router(academic_pages.build_router())
    app.include_router(academic_exports.build_router())
    app.include_router(academic_invitations.build_router())
    app.include_router(academic_reports.build_router())
    app.include_router(academic_api.build_router())
    app.include_router(asp_pages.build_router())
    app.include_router(asp_liquidation.build_router())
    app.include_router(asp_api.build_router())
    app.include_router(stats_pages.build_router())
    app.include_router(staff_pages.build_router())
    app.include_router(download_pages.build_router())
    return app
