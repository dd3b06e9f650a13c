"""The documents service's own gauges, read from its schema at each scrape of /metrics."""

from __future__ import annotations

from aplypro_servicekit.schema_gauges import SchemaGauge


def documents_gauges(attempts: int) -> list[SchemaGauge]:
    return [
        SchemaGauge(
            "aplypro_documents_queue", "Documents waiting to be issued per kind; failed: past their attempts "
            "(dead-lettered, waiting for a replay).", ("kind", "state"),
            f"SELECT kind, CASE WHEN attempts < {int(attempts)} THEN 'queued' ELSE 'failed' END AS state, "
            "count(*) AS value FROM render_queue GROUP BY 1, 2"),
        SchemaGauge(
            "aplypro_documents_issued", "Documents whose PDF is stored, per kind.", ("kind",),
            "SELECT kind, count(*) AS value FROM documents WHERE sha256 IS NOT NULL GROUP BY kind"),
        # Issue, then render: documents numbered (DocumentIssued sent) whose PDF is not stored yet.
        SchemaGauge(
            "aplypro_documents_unrendered", "Documents issued and not rendered yet, per kind; given_up: past their "
            "render attempts (dead-lettered, waiting for `aplypro-documents rerender`).", ("kind", "state"),
            "SELECT kind, CASE WHEN render_given_up_at IS NULL THEN 'rendering' ELSE 'given_up' END AS state, "
            "count(*) AS value FROM documents WHERE sha256 IS NULL GROUP BY 1, 2"),
        SchemaGauge(
            "aplypro_documents_unrendered_oldest_seconds", "Age of the oldest document issued and not rendered "
            "yet (given up ones included), per kind.", ("kind",),
            "SELECT kind, extract(epoch FROM now() - min(created_at))::float8 AS value FROM documents "
            "WHERE sha256 IS NULL GROUP BY kind"),
    ]
