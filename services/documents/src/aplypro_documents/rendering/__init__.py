"""Rendering core of the documents service: document dataclasses in, PDF bytes out.

`render_one` is one weasyprint call per document; `render_many` is the fast batch path;
`render_batch` is the picklable process-pool entry point that takes `to_payload` dicts.

The names below load their module on first use (PEP 562): the service's consumer and relay processes
import `rendering.payloads` and must not pay for weasyprint, which only the render workers need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aplypro_documents.rendering.payloads import from_payload, to_payload
    from aplypro_documents.rendering.pool import render_batch, render_parallel, worker_pool
    from aplypro_documents.rendering.renderer import RenderError, render_many, render_one

_HOME = {
    "from_payload": "payloads", "to_payload": "payloads",
    "render_batch": "pool", "render_parallel": "pool", "worker_pool": "pool",
    "RenderError": "renderer", "render_many": "renderer", "render_one": "renderer",
}

__all__ = ["RenderError", "from_payload", "render_batch", "render_many", "render_one", "render_parallel", "to_payload",
           "worker_pool"]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
