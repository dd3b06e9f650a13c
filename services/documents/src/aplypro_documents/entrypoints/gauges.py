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
            "aplypro_documents_issued", "Documents issued (PDF stored), per kind.", ("kind",),
            "SELECT kind, count(*) AS value FROM documents GROUP BY kind"),
    ]
