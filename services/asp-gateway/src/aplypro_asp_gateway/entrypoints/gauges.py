"""The gateway's own gauges, read from its schema at each scrape of /metrics."""

from __future__ import annotations

from aplypro_servicekit.schema_gauges import SchemaGauge

GATEWAY_GAUGES = [
    SchemaGauge("aplypro_gateway_requests", "Requests known to the gateway per state; blocked: pending with a "
                "blocking reason.", ("state",),
                "SELECT CASE WHEN state = 'pending' AND blocking_reasons <> '{}' THEN 'blocked' ELSE state END "
                "AS state, count(*) AS value FROM payment_requests GROUP BY 1"),
    SchemaGauge("aplypro_payment_files", "Payment files built; written: handed over to the drop folder (its requests then sent).",
                ("state",),
                "SELECT CASE WHEN written_at IS NULL THEN 'built' ELSE 'written' END AS state, count(*) AS value "
                "FROM asp_files GROUP BY 1"),
    SchemaGauge("aplypro_payment_file_records", "Records in every payment file built.", (),
                "SELECT count(*) AS value FROM file_records"),
    # G5 (§9.2): records uploaded and never answered, integrated and never paid, past their timeouts.
    SchemaGauge("aplypro_asp_answers_overdue", "Requests sent to the ASP and not answered within the timeout.",
                (), "SELECT count(*) AS value FROM payment_requests WHERE state = 'sent' "
                "AND answer_overdue_at IS NOT NULL"),
    SchemaGauge("aplypro_asp_payments_overdue", "Requests integrated by the ASP and not paid within the timeout.",
                (), "SELECT count(*) AS value FROM payment_requests WHERE state = 'integrated' "
                "AND payment_overdue_at IS NOT NULL"),
    SchemaGauge("aplypro_return_files", "ASP return files ingested, by kind.", ("kind",),
                "SELECT kind, count(*) AS value FROM return_files GROUP BY 1"),
    # G4: a line that matched nothing is never ignored; this is what operators watch (why: a stable key).
    SchemaGauge("aplypro_unmatched_return_lines", "ASP return lines matched to nothing or not applied, by why.",
                ("why",), "SELECT why, count(*) AS value FROM unmatched_return_lines GROUP BY 1"),
    # imports.md §5.8: one person known to the ASP as two individuals after a merge, for an operator to settle
    SchemaGauge("aplypro_asp_individual_conflicts", "Merged students both known to the ASP as an individual "
                "(the survivor's id is kept; the pair is in asp_individual_conflicts).", (),
                "SELECT count(*) AS value FROM asp_individual_conflicts"),
]
