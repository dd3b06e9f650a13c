"""The Grafana dashboard (deploy/grafana/aplypro.json) queries only metrics and labels the code exposes.

Names and labels come from the metric objects themselves (servicekit's metrics, every service's schema
gauges), so a renamed metric or label fails here instead of leaving an empty panel."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aplypro_asp_gateway.entrypoints.gauges import GATEWAY_GAUGES
from aplypro_calculator.entrypoints.gauges import CALCULATOR_GAUGES
from aplypro_documents.entrypoints.gauges import documents_gauges
from aplypro_documents.service_layer import batch_metrics, render_metrics
from aplypro_pfmp.entrypoints.web import web_metrics
from aplypro_servicekit import http_metrics, metrics
from aplypro_students.entrypoints import api_metrics
from prometheus_client.metrics import MetricWrapperBase

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "aplypro.json"
# Labels Prometheus adds when it scrapes a pod (kubernetes_sd: pod labels mapped, `instance`, `pod`...).
SCRAPE_LABELS = {"app_kubernetes_io_name", "instance", "pod", "namespace", "job"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
PROMQL_WORDS = {"sum", "max", "min", "avg", "by", "rate", "increase", "deriv", "histogram_quantile", "without"}


def exposed() -> dict[str, set[str]]:
    """Every sample name the services expose → its labels."""
    out: dict[str, set[str]] = {}

    def add(name: str, kind: str, labels: tuple[str, ...]) -> None:
        for suffix in SUFFIXES[kind]:
            out[name + suffix] = set(labels) | ({"le"} if suffix == "_bucket" else set())

    modules = (metrics, render_metrics, http_metrics, web_metrics, api_metrics, batch_metrics)
    for value in [v for module in modules for v in vars(module).values()]:
        if isinstance(value, MetricWrapperBase):
            add(value._name, str(value._type), tuple(value._labelnames))
    for family in metrics.STALE_DROPPED.collect():
        add(family.name, family.type, ("event_type",))
    for gauge in [*GATEWAY_GAUGES, *CALCULATOR_GAUGES, *documents_gauges(3)]:
        add(gauge.name, "gauge", gauge.labels)
    return out


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from panels(item.get("panels", []))


def expressions(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in panels(dashboard["panels"]) for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if v.get("definition")]
    return exprs


def test_every_metric_the_dashboard_queries_exists() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    known = exposed()
    exprs = expressions(dashboard)
    assert len(exprs) >= 20
    queried = set()
    for expr in exprs:
        names = set(re.findall(r"\baplypro_[a-z0-9_]+\b", expr))
        assert names, f"queries no APLyPro metric: {expr}"
        unknown = names - known.keys()
        assert not unknown, f"{sorted(unknown)} not exposed by the code (in {expr})"
        queried |= names
        # Labels grouped on or matched must be the metrics' own (or added by the scrape).
        labels = set(re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr))
        used = {label.strip() for group in labels for label in group.split(",") if label.strip()}
        used |= set(re.findall(r"[{,]\s*([a-z_]+)\s*=~?", expr))
        allowed = set().union(*(known[n] for n in names)) | SCRAPE_LABELS
        assert not (used - allowed), f"labels {sorted(used - allowed)} not on {sorted(names)} (in {expr})"
    # The list: consumed / dead-lettered / stale, batch latency, lag, outbox depth and age, relay
    # rate, documents queue, requests per state and per reason, payment files; issue 11: the ASP's overdue
    # answers and payments (G5), return files and the lines matched to nothing (G4); the web tier (requests per
    # route, latency, 5xx, logins by outcome).
    for must in ("aplypro_events_consumed_total", "aplypro_events_dead_lettered_total",
                 "aplypro_events_stale_dropped_total", "aplypro_batch_seconds_bucket", "aplypro_consumer_lag",
                 "aplypro_outbox_depth", "aplypro_outbox_oldest_age_seconds", "aplypro_relay_published_total",
                 "aplypro_documents_queue", "aplypro_payment_requests", "aplypro_payment_requests_blocked",
                 "aplypro_payment_files", "aplypro_asp_answers_overdue", "aplypro_asp_payments_overdue",
                 "aplypro_return_files", "aplypro_unmatched_return_lines", "aplypro_http_requests_total",
                 "aplypro_http_request_seconds_bucket", "aplypro_web_logins_total",
                 "aplypro_web_logins_rate_limited_total", "aplypro_students_api_ribs_refused_total",
                 "aplypro_documents_batches_finished_total", "aplypro_documents_batch_zip_bytes_bucket",
                 "aplypro_documents_unrendered", "aplypro_documents_unrendered_oldest_seconds"):
        assert must in queried, must


def test_the_oldest_unrendered_age_has_its_panel_beside_the_unrendered_counts() -> None:
    """The render lag (issue 12) shows as an age in seconds, on the row of the unrendered counts."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    by_metric = {name: panel for panel in panels(dashboard["panels"]) for t in panel.get("targets", [])
                 for name in re.findall(r"\baplypro_[a-z0-9_]+\b", t["expr"])}
    counts, age = by_metric["aplypro_documents_unrendered"], by_metric["aplypro_documents_unrendered_oldest_seconds"]
    assert age is not counts
    assert age["fieldConfig"]["defaults"]["unit"] == "s"
    assert age["gridPos"]["y"] == counts["gridPos"]["y"]  # side by side
    assert age["gridPos"]["x"] == counts["gridPos"]["x"] + counts["gridPos"]["w"]
    [target] = age["targets"]
    assert "by (kind)" in target["expr"]


def test_the_dashboard_is_importable_grafana_json() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"]
    assert dashboard["title"]
    assert dashboard["schemaVersion"] >= 30
    ids = [p["id"] for p in panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard["panels"]):
        if panel["type"] != "row":
            assert panel["targets"]
            assert panel["datasource"]["uid"] == "${datasource}"
            grid = panel["gridPos"]
            assert 0 <= grid["x"]
            assert grid["x"] + grid["w"] <= 24
