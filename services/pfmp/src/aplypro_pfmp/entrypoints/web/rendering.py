"""Jinja2 templates of the pages: every page gets the user, the CSRF token, the flash messages and labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from . import labels
from .security import csrf_token, optional_user

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["PFMP_STATUS"] = labels.PFMP_STATUS


def flash(request: Request, kind: str, message: str) -> None:
    """A message shown once on the next page (the result of a POST, after its redirect)."""
    request.session.setdefault("flash", []).append({"kind": kind, "message": message})


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> HTMLResponse:
    messages = request.session.pop("flash", []) if "flash" in request.session else []
    base = {"user": optional_user(request), "csrf_token": csrf_token(request), "messages": messages}
    return templates.TemplateResponse(request, name, {**base, **(context or {})}, status_code=status_code)
