"""The calculator's own gauges, read from its schema at each scrape of /metrics."""

from __future__ import annotations

from aplypro_servicekit.schema_gauges import SchemaGauge

CALCULATOR_GAUGES = [
    SchemaGauge("aplypro_payment_requests", "Payment requests per state.", ("state",),
                "SELECT state, count(*) AS value FROM payment_requests GROUP BY state"),
    # A request counts under each reason it has (every failed check is recorded); owner: which service
    # decided it (the calculator's gates, or the gateway's for a request handed over as ready).
    SchemaGauge("aplypro_payment_requests_blocked", "Blocked payment requests per reason and deciding service.",
                ("reason", "owner"),
                "SELECT reason, owner, count(*) AS value FROM ("
                "SELECT unnest(reasons) AS reason, 'calculator' AS owner FROM payment_requests "
                "WHERE state IN ('pending', 'incomplete') UNION ALL "
                "SELECT unnest(gateway_reasons), 'asp-gateway' FROM payment_requests WHERE state = 'ready') r "
                "GROUP BY reason, owner"),
    # calculation.md §5.6: money handed over beyond a yearly cap (a merge after both students were paid, a barème
    # lowered after payment); resolved once the operator's repair-over-cap rectified the excess.
    SchemaGauge("aplypro_pools_over_cap", "Cap pools whose committed amounts exceed the yearly cap, unresolved.", (),
                "SELECT count(*) AS value FROM over_cap_pools WHERE resolved_at IS NULL"),
]
