"""`aplypro status`: one table of a running local stack (the stack.json that `aplypro up` writes).

Per service: ready or not (its /readyz) and where its metrics are; per consumer group: its lag on the
broker (committed offsets, as `drill/lag.py` reads them: right even while a service is down); per
service: outbox depth and the age of its oldest row; documents queued and issued per kind; payment
requests per state.
Figures are read from the schemas and the broker, not from /metrics, so a stopped service still shows.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from rich.table import Table

from .drill.lag import lag_by_group
from .probes import Probe
from .stack import SERVICES, STACK_FILE

# Schemas are named after the services (asp-gateway: asp_gateway).
SCHEMAS = {service: service.replace("-", "_") for service in SERVICES}
UNDEFINED = (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError, asyncpg.UndefinedColumnError)
RENDER_ATTEMPTS = 3  # the documents service's default (APLYPRO_DOCUMENTS_RENDER_ATTEMPTS): past it, failed


class NoStack(RuntimeError):
    code = "no_stack"


@dataclass(frozen=True)
class Row:
    section: str
    item: str
    value: str
    detail: str = ""


def load(workdir: Path) -> dict[str, Any]:
    path = workdir / STACK_FILE
    if not path.exists():
        raise NoStack(f"no {STACK_FILE} in {workdir}: start the stack with `aplypro up --workdir {workdir}`")
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _ready(url: str | None) -> tuple[str, str]:
    if not url:
        return "-", "no ops port"
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a local http URL we wrote)
            return "ready", ""
    except urllib.error.HTTPError as exc:  # 503: the probe's JSON says what is missing
        try:
            detail = json.loads(exc.read())
        except ValueError:
            detail = {}
        return "not ready", ", ".join(f"{k}={v}" for k, v in detail.items() if k != "ready")[:80]
    except OSError:
        return "down", ""


async def _schema_rows(conn: asyncpg.Connection, prefix: str) -> list[Row]:
    rows: list[Row] = []
    for service, schema in SCHEMAS.items():
        try:
            outbox = await conn.fetchrow(
                f"SELECT coalesce(sum(size), 0) AS depth, extract(epoch FROM now() - min(created_at)) AS age "
                f"FROM {prefix}{schema}.outbox_batch")
            depth, age = (outbox["depth"], outbox["age"]) if outbox is not None else (0, None)
        except UNDEFINED:
            depth, age = 0, None
        rows.append(Row("outbox depth", service, str(depth), "" if age is None else f"oldest {float(age):.1f} s"))
    try:
        queue = await conn.fetch(
            f"SELECT kind, count(*) FILTER (WHERE attempts < $1) AS queued, "
            f"count(*) FILTER (WHERE attempts >= $1) AS failed FROM {prefix}documents.render_queue "
            "GROUP BY kind ORDER BY kind", RENDER_ATTEMPTS)
    except UNDEFINED:
        queue = []
    rows += [Row("documents queue", r["kind"], str(r["queued"]), f"{r['failed']} failed" if r["failed"] else "")
             for r in queue] or [Row("documents queue", "(all kinds)", "0")]
    try:
        # Issue, then render: a document is issued (numbered) before its PDF is stored.
        issued = await conn.fetch(f"SELECT kind, count(*) AS n, count(*) FILTER (WHERE sha256 IS NULL) AS unrendered, "
                                  "count(*) FILTER (WHERE sha256 IS NULL AND render_given_up_at IS NOT NULL) AS given_up "
                                  f"FROM {prefix}documents.documents GROUP BY kind ORDER BY kind")
    except UNDEFINED:
        issued = []
    rows += [Row("documents issued", r["kind"], str(r["n"]),
                 f"{r['unrendered']} not rendered yet" + (f", {r['given_up']} given up" if r["given_up"] else "")
                 if r["unrendered"] else "") for r in issued] or [
        Row("documents issued", "(none)", "0")]
    try:
        states = await conn.fetch(f"SELECT state, count(*) AS n FROM {prefix}calculator.payment_requests "
                                  "GROUP BY state ORDER BY state")
    except UNDEFINED:
        states = []
    rows += [Row("payment requests", r["state"], str(r["n"])) for r in states] or [
        Row("payment requests", "(none)", "0")]
    return rows


async def gather(info: dict[str, Any]) -> list[Row]:
    """Every row of the table, in order."""
    services = info.get("services", {})
    health = await asyncio.gather(*(asyncio.to_thread(_ready, services.get(s, {}).get("readyz"))
                                    for s in SERVICES))
    rows = [Row("service", s, state, services.get(s, {}).get("metrics") or detail)
            if state == "ready" else Row("service", s, state, detail)
            for s, (state, detail) in zip(SERVICES, health, strict=True)]
    bootstrap, namespace = info["kafka_bootstrap_servers"], info.get("topic_namespace", "")
    try:
        lags = await lag_by_group(bootstrap, namespace)
        rows += [Row("consumer lag", group, str(lag)) for group, lag in lags.items()]
    except Exception as exc:  # the broker is down: say so in the table, keep the rest
        rows.append(Row("consumer lag", "(broker)", "unreachable", type(exc).__name__))
    prefix = info.get("schema_prefix", "")
    conn = await asyncpg.connect(info["database_url"])
    try:
        rows += await _schema_rows(conn, prefix)
    finally:
        await conn.close()
    figures = await Probe(info["database_url"], bootstrap, prefix, namespace).figures()
    rows.append(Row("payment requests", "blocked (any state)", str(figures["requests_blocked"])))
    rows.append(Row("payment files", "built", str(figures["payment_files"]),
                    f"{figures['requests_sent']} requests sent"))
    return rows


def table(rows: list[Row], title: str = "APLyPro stack") -> Table:
    out = Table(title=title)
    for column, justify in (("what", "left"), ("", "left"), ("value", "right"), ("detail", "left")):
        out.add_column(column, justify=justify)  # type: ignore[arg-type]
    previous = None
    for row in rows:
        out.add_row(row.section if row.section != previous else "", row.item, row.value, row.detail)
        previous = row.section
    return out
