"""Request guards of the web application: the session's user, role and establishment scope, CSRF, login
rate limit. Every route goes through them on the server (features.md §1: nothing is guarded only in the UI).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass

from fastapi import HTTPException, Request

from aplypro_pfmp.domain.access import Roles

from .settings import DEFAULT_REALM

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No user in the session: the page sends them to the login page."""


@dataclass(frozen=True)
class User:
    """The logged-in user: `user_id` (the identity's `sub`) is what the audit trail records; `realm` the login
    realm it came through (settings.py)."""

    user_id: str
    display_name: str
    roles: Roles
    realm: str = DEFAULT_REALM


def current_user(request: Request) -> User:
    data = request.session.get("user")
    if not isinstance(data, dict):
        raise LoginRequired
    return User(str(data["id"]), str(data.get("name", "")), Roles.from_session(data.get("roles", {})),
                str(data.get("realm", DEFAULT_REALM)))


def optional_user(request: Request) -> User | None:
    try:
        return current_user(request)
    except LoginRequired:
        return None


def staff_of(user: User, uai: str) -> None:
    """Establishment pages: 403 for a user with no establishment at all (academic, ASP), 404 for staff of
    another establishment (no hint that it exists)."""
    if not user.roles.establishments:
        raise HTTPException(403, "Cette page est réservée au personnel des établissements.")
    if uai not in user.roles.establishments:
        raise HTTPException(404)


def director_of(user: User, uai: str) -> None:
    staff_of(user, uai)
    if uai not in user.roles.director_of:
        raise HTTPException(403, "Seul le chef d'établissement peut faire cette action.")


def csrf_token(request: Request) -> str:
    """The session's synchronizer token, made on first use; every form carries it."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Dependency of every route: an unsafe method needs the session's token in its form (or header)."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()  # cached by Starlette: the route reads the same form afterwards
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or sent is None or not secrets.compare_digest(expected, sent):
        raise HTTPException(403, "Le formulaire a expiré : rechargez la page et recommencez.")


class RateLimiter:
    """At most `limit` hits per minute per key (the client address), in memory: one process's view, a
    brake on password-spraying through the provider's redirects, not a quota."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle keys so memory stays bounded
            self._hits = {k: v for k, v in self._hits.items() if v}
        return True
