"""Student search of an establishment (features.md §2): accents, case and punctuation ignored, 50 per page.

The words searched are names: they travel in the POST body (with the CSRF token), never in a URL that proxies
and access logs would keep; the result pages are buttons of the same form.
"""

from __future__ import annotations

import re
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response

from aplypro_pfmp.adapters import web_students_sql

from .rendering import render
from .security import User, current_user, staff_of

log = structlog.get_logger(__name__)
Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]
MAX_WORDS = 6


def words_of(query: str) -> list[str]:
    """Words of the query; punctuation splits them ("Jean-Pierre" is two words, each folded in SQL)."""
    return [w for w in re.split(r"[\W_]+", query) if w][:MAX_WORDS]


def build_router() -> APIRouter:
    router = APIRouter()
    path = "/etablissements/{uai}/recherche"

    @router.get(path, name="search_page")
    async def page(request: Request, uai: Uai, user: CurrentUser) -> Response:
        staff_of(user, uai)
        return render(request, "search.html", {"title": "Rechercher un élève", "uai": uai, "query": "",
                                               "result": None})

    @router.post(path, name="search")
    async def search(request: Request, uai: Uai, user: CurrentUser, q: Annotated[str, Form(max_length=200)] = "",
                     page: Annotated[int, Form(ge=1, le=100_000)] = 1) -> Response:
        staff_of(user, uai)
        words = words_of(q)
        result = None
        if words:
            async with request.app.state.pool.acquire() as conn:
                result = await web_students_sql.search_students(conn, uai, words, page)
            log.info("students_searched", words=len(words), found=result.total, page=page)  # never the words
        return render(request, "search.html", {"title": "Rechercher un élève", "uai": uai, "query": q,
                                               "result": result})

    return router
