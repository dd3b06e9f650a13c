"""OIDC login (authorization code + PKCE, authlib) against the configured provider; roles from the claims
at every login (domain.access), the confirmations of lost directorships dropped; logout.

Nothing personal is logged: the user's `sub` only (an opaque id at ProConnect), and counts.
"""

from __future__ import annotations

from typing import Any

import structlog
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import academic_invitations_sql, invitations_sql
from aplypro_pfmp.domain.access import NoRole, email_of, roles_from_claims
from aplypro_pfmp.service_layer.access import forget_lost_directorships

from .rendering import render
from .settings import WebSettings

log = structlog.get_logger(__name__)


def oauth_client(settings: WebSettings) -> OAuth:
    oauth = OAuth()
    oauth.register(
        name="provider",
        server_metadata_url=f"{settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        client_kwargs={"scope": settings.oidc_scope, "code_challenge_method": "S256"},  # PKCE
    )
    return oauth


def _display_name(claims: dict[str, Any]) -> str:
    name = " ".join(str(claims.get(k) or "") for k in ("given_name", "family_name")).strip()
    return name or str(claims.get("name") or claims.get("email") or "")


def build_router() -> APIRouter:
    router = APIRouter()

    def too_many(request: Request) -> Response | None:
        client = request.client.host if request.client else "unknown"
        if request.app.state.login_limiter.allow(client):
            return None
        log.warning("login_rate_limited")
        return render(request, "error.html", {"title": "Trop de tentatives",
                                              "message": "Trop de tentatives de connexion : réessayez dans une minute."},
                      status_code=429)

    @router.get("/connexion", name="login")
    async def login(request: Request) -> Response:
        if (refused := too_many(request)) is not None:
            return refused
        redirect_uri = str(request.url_for("auth_callback"))
        response: Response = await request.app.state.oauth.provider.authorize_redirect(request, redirect_uri)
        return response

    @router.get("/auth/callback", name="auth_callback")
    async def callback(request: Request) -> Response:
        if (refused := too_many(request)) is not None:
            return refused
        try:
            token = await request.app.state.oauth.provider.authorize_access_token(request)
            claims: dict[str, Any] = dict(token.get("userinfo") or {})
            claims.update(await request.app.state.oauth.provider.userinfo(token=token))
        except OAuthError as exc:
            log.warning("login_failed", error=exc.error)
            return render(request, "error.html", {"title": "Connexion impossible",
                                                  "message": "La connexion a échoué : recommencez depuis l'accueil."},
                          status_code=400)
        sub = str(claims.get("sub") or "")
        request.session.clear()  # a new session for a new login (fixation)
        email = email_of(claims)
        async with request.app.state.pool.acquire() as conn:
            invited = await invitations_sql.establishments_of(conn, email) if email else []
            academies = await academic_invitations_sql.academies_of(conn, email) if email else []
        try:
            roles = roles_from_claims(claims, invited, academies)
        except NoRole:
            log.info("login_refused", reason=NoRole.code)
            return render(request, "refused.html", {"title": "Accès refusé"}, status_code=403)
        async with request.app.state.pool.acquire() as conn:
            dropped = await forget_lost_directorships(conn, sub, roles.director_of)
        request.session["user"] = {"id": sub, "name": _display_name(claims), "roles": roles.to_session()}
        log.info("login", establishments=len(roles.establishments), academies=len(roles.academies),
                 asp=roles.asp_agent, confirmations_dropped=dropped)
        return RedirectResponse(request.url_for("home"), status_code=303)

    @router.post("/deconnexion", name="logout")
    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse(request.url_for("home"), status_code=303)

    return router
