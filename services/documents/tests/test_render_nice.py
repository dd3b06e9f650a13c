"""APLYPRO_DOCUMENTS_RENDER_NICE: the render workers run at a lower priority, so the issue lanes (the numbers a
payment waits for) and the consumer keep the CPU; 0 leaves them at the service's own."""

from __future__ import annotations

import os

from aplypro_documents.config import DocumentsSettings
from aplypro_documents.rendering.pool import worker_pool


def test_render_workers_run_at_the_niceness_asked_and_the_service_keeps_its_own() -> None:
    own = os.nice(0)
    with worker_pool(1, nice=5) as executor:
        assert executor.submit(os.nice, 0).result(timeout=120) == min(own + 5, 19)
    with worker_pool(1) as executor:
        assert executor.submit(os.nice, 0).result(timeout=120) == own
    assert os.nice(0) == own


def test_the_setting_defaults_to_no_change_and_refuses_what_nice_cannot_be() -> None:
    assert DocumentsSettings().render_nice == 0
    assert DocumentsSettings(render_nice=19).render_nice == 19
    for bad in (-1, 20):
        try:
            DocumentsSettings(render_nice=bad)
        except ValueError:
            continue
        raise AssertionError(f"render_nice={bad} accepted")
