"""Rendering core of the documents service: document dataclasses in, PDF bytes out.

`render_one` is one weasyprint call per document; `render_many` is the fast batch path;
`render_batch` is the picklable process-pool entry point that takes `to_payload` dicts.
"""

from aplypro_documents.rendering.payloads import from_payload, to_payload
from aplypro_documents.rendering.pool import render_batch, render_parallel, worker_pool
from aplypro_documents.rendering.renderer import RenderError, render_many, render_one

__all__ = [
    "RenderError",
    "from_payload",
    "render_batch",
    "render_many",
    "render_one",
    "render_parallel",
    "to_payload",
    "worker_pool",
]
