"""`aplypro-asp-gateway correction-file --pfmp ID [--pfmp ...] [--dry-run]`: one address-correction file
(asp-exchange.md §4.9) for the PFMPs an operator chose, through the same build blocks as `send` (options, XSD
validation, stored file, handover).

One JSON line, like `send`'s: name, records, sha256, destination, state (`uploaded`, `already_there`,
`unconfirmed`; `dry_run`: built and validated, nothing stored nor sent; `built`: stored, the handover is
another instance's), and `not_sent`: each PFMP left out with its request and reason keys (RNVP had nothing
for the student: `rnvp_address_not_found`; our XSD refused the record: `asp_schema_invalid`). A cap of §3.4
reached: `skipped` with the reason, nothing built. Exit 2, nothing built and RNVP not asked, when a PFMP is
unknown or cannot be corrected (never integrated: `missing_asp_ids`; data missing), or when RNVP is needed and
unavailable; the message names the PFMPs and reason keys only.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any
from uuid import UUID

from aplypro_servicekit.cli import service_pool

from aplypro_asp_gateway.adapters.rnvp import HttpRnvp
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.domain.schedule import SKIP_WORDS
from aplypro_asp_gateway.entrypoints.service import SCHEMA, build_options
from aplypro_asp_gateway.service_layer.corrections import CorrectionResult, send_correction_file

EXIT_REFUSED = 2


async def run(settings: AspSettings, pfmp_ids: list[UUID], *, dry_run: bool) -> CorrectionResult:
    async with AsyncExitStack() as stack:
        rnvp = (await stack.enter_async_context(HttpRnvp(settings.rnvp_url, settings.rnvp_timeout_s))
                if settings.rnvp_url else None)
        pool, _ = await stack.enter_async_context(service_pool(settings, SCHEMA, ["aplypro_asp_gateway"]))
        return await send_correction_file(pool, build_options(settings), pfmp_ids, rnvp, dry_run=dry_run)


def correction_file(settings: AspSettings, pfmp_ids: list[UUID], *, dry_run: bool) -> CorrectionResult:
    return asyncio.run(run(settings, pfmp_ids, dry_run=dry_run))


def result_line(result: CorrectionResult) -> dict[str, Any]:
    line: dict[str, Any] = {"name": result.file_name, "records": result.records, "sha256": result.sha256}
    if result.dry_run:
        line["state"] = "dry_run"
    elif result.handed_over is not None:
        line |= {"destination": result.handed_over.destination, "state": result.handed_over.outcome}
    elif result.file_name is not None:
        line["state"] = "built"  # stored; the next `send` hands it over
    if result.skipped:
        line |= {"skipped": result.skipped, "reason": SKIP_WORDS[result.skipped]}
    line["not_sent"] = [{"pfmp_id": str(n.pfmp_id), "payment_request_id": str(n.payment_request_id),
                         "reasons": list(n.reasons)} for n in result.not_sent]
    return line
