"""How long rendering takes, per document kind: the render share of a batch (its render time divided by its
documents) observed once per document, so the histogram counts documents and a mixed batch charges each kind
its own documents. Labels are the four kinds, never ids."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from prometheus_client import Histogram

RENDER_SECONDS = Histogram(
    "aplypro_documents_render_seconds", "Render time per document (a batch's render time shared between its "
    "documents), per kind.", ["kind"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def observe_render(kinds: Sequence[str], seconds: float) -> None:
    """One observation per document rendered in a batch that took `seconds`."""
    if not kinds:
        return
    share = seconds / len(kinds)
    for kind, documents in Counter(kinds).items():
        child = RENDER_SECONDS.labels(kind=kind)
        for _ in range(documents):
            child.observe(share)
