"""Guards of the academic and ASP pages (features.md §1), beside security.py's establishment guards, and the
clock of the pages (injected in tests: nothing may depend on the day a test runs)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request

from .security import User, current_user

PARIS = ZoneInfo("Europe/Paris")


def academies_of(user: User) -> list[str] | None:
    """The academies an academic user may read; None for a national admin (`*`: every academy)."""
    if not user.roles.academies:
        raise HTTPException(403, "Cette page est réservée aux services académiques.")
    return None if user.roles.admin else sorted(user.roles.academies)


def academic_of(user: User, code: str) -> None:
    """An academy's pages: 403 for a user who is not academic, 404 for another academy (no hint)."""
    scope = academies_of(user)
    if scope is not None and code not in scope:
        raise HTTPException(404)


def admin_only(user: User) -> None:
    """National views and exports: the national admin (academy code `*`) only; 403 for anyone else."""
    if not user.roles.admin:
        raise HTTPException(403, "Cette page est réservée à l'administration nationale.")


def asp_agent(user: User) -> None:
    if not user.roles.asp_agent:
        raise HTTPException(403, "Cette page est réservée aux agents de l'ASP.")


def today_of(request: Request) -> date:
    """The French calendar day; `app.state.today` replaces it in tests."""
    clock = getattr(request.app.state, "today", None)
    return clock() if clock is not None else datetime.now(PARIS).date()


# Router-level dependencies: the role is checked before any parameter is parsed, so a user without the role gets
# 403 even for a malformed path or body (which would otherwise answer 404 or 422 first).
def academic_user(user: User = Depends(current_user)) -> None:  # noqa: B008 (FastAPI's dependency idiom)
    academies_of(user)


def asp_user(user: User = Depends(current_user)) -> None:  # noqa: B008
    asp_agent(user)
