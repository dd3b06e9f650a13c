"""OIDC login (authorization code + PKCE, authlib) through one of the configured realms (settings.py: one
provider each, FIM, CAS, academic, ASP); roles from the claims at every login, only those the realm may grant
(domain.access), the confirmations of lost directorships dropped; logout.

Each realm is its own authlib client: its state and PKCE verifier are kept in the session under its name, so a
provider's answer is accepted only on its own realm's callback. With several realms `/connexion` shows one
button per realm; with one it goes straight to the provider.

Nothing personal is logged: the user's `sub` only (an opaque id at ProConnect), the realm, and counts.
"""

from __future__ import annotations

from typing import Any

import structlog
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.starlette_client import OAuth
from authlib.integrations.starlette_client.apps import StarletteOAuth2App
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import academic_invitations_sql, invitations_sql
from aplypro_pfmp.domain.access import NoRole, email_of, roles_from_claims
from aplypro_pfmp.service_layer.access import forget_lost_directorships

from .rendering import render
from .settings import DEFAULT_REALM, OidcRealm, WebSettings
from .web_metrics import WEB_LOGINS_RATE_LIMITED, count_login

log = structlog.get_logger(__name__)


def oauth_client(settings: WebSettings) -> OAuth:
    """One authlib client per login realm, registered under the realm's name."""
    oauth = OAuth()
    for name, realm in settings.login_realms().items():
        oauth.register(
            name=name,
            server_metadata_url=f"{realm.issuer.rstrip('/')}/.well-known/openid-configuration",
            client_id=realm.client_id,
            client_secret=realm.client_secret.get_secret_value(),
            client_kwargs={"scope": realm.scope, "code_challenge_method": "S256"},  # PKCE
        )
    return oauth


def _realm(request: Request, name: str) -> tuple[OidcRealm, StarletteOAuth2App]:
    """The configured realm `name` and its client; 404 for any other name."""
    realm = request.app.state.realms.get(name)
    if realm is None:
        raise HTTPException(404)
    client: StarletteOAuth2App = request.app.state.oauth.create_client(name)
    return realm, client


def _callback_url(request: Request, name: str) -> str:
    # The single-provider default keeps the address registered at its provider before realms existed.
    if name == DEFAULT_REALM:
        return str(request.url_for("auth_callback"))
    return str(request.url_for("realm_callback", realm=name))


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
        WEB_LOGINS_RATE_LIMITED.inc()
        return render(request, "error.html", {"title": "Trop de tentatives",
                                              "message": "Trop de tentatives de connexion : réessayez dans une minute."},
                      status_code=429)

    @router.get("/connexion", name="login")
    async def login(request: Request) -> Response:
        realms: dict[str, OidcRealm] = request.app.state.realms
        if len(realms) > 1:
            return render(request, "login.html", {"title": "Connexion", "realms": realms})
        (name,) = realms
        return await realm_login(request, name)

    @router.get("/connexion/{realm}", name="realm_login")
    async def realm_login(request: Request, realm: str) -> Response:
        if (refused := too_many(request)) is not None:
            return refused
        _, client = _realm(request, realm)
        response: Response = await client.authorize_redirect(request, _callback_url(request, realm))
        return response

    @router.get("/auth/callback", name="auth_callback")
    async def callback(request: Request) -> Response:
        return await realm_callback(request, DEFAULT_REALM)

    @router.get("/auth/callback/{realm}", name="realm_callback")
    async def realm_callback(request: Request, realm: str) -> Response:
        if (refused := too_many(request)) is not None:
            return refused
        chosen, client = _realm(request, realm)
        try:
            token = await client.authorize_access_token(request)
            claims: dict[str, Any] = dict(token.get("userinfo") or {})
            claims.update(await client.userinfo(token=token))
        except OAuthError as exc:
            log.warning("login_failed", realm=realm, error=exc.error)
            count_login(realm, "error")
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
            roles = roles_from_claims(claims, invited, academies, realm=chosen.kind,
                                      authorised_colleges=request.app.state.web_settings.authorised_colleges)
        except NoRole:
            log.info("login_refused", realm=realm, reason=NoRole.code)
            count_login(realm, "no_role")
            return render(request, "refused.html", {"title": "Accès refusé", "realm": chosen,
                                                    "several_realms": len(request.app.state.realms) > 1},
                          status_code=403)
        async with request.app.state.pool.acquire() as conn:
            dropped = await forget_lost_directorships(conn, sub, roles.director_of)
        request.session["user"] = {"id": sub, "name": _display_name(claims), "realm": realm,
                                   "roles": roles.to_session()}
        log.info("login", realm=realm, establishments=len(roles.establishments), academies=len(roles.academies),
                 asp=roles.asp_agent, confirmations_dropped=dropped)
        count_login(realm, "ok")
        return RedirectResponse(request.url_for("home"), status_code=303)

    @router.post("/deconnexion", name="logout")
    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse(request.url_for("home"), status_code=303)

    return router
