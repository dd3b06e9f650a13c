"""`aplypro-asp-gateway read-return FILE`: parse one ASP return file offline (no database, no broker) and print
one JSON object per line read; a file that cannot be read exits 2 with one line on stderr.

Printed: kind, position, match keys, state, reason key and French words, amounts in cents, dates, ASP ids.
Never printed: the account paid and the ASP's free text (they may carry an IBAN or a name).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from aplypro_asp_gateway.adapters.returns import ReturnFileRefused, read_return_file
from aplypro_asp_gateway.domain.return_lines import ReturnLine

EXIT_UNREADABLE = 2


def line_json(line: ReturnLine) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": line.kind.value, "line": line.line_no, "record_id": line.record_id, "numadm": line.numadm,
        "state": line.state.value, "reason_code": line.reason_code,
        "reason": line.reason.words if line.reason else None,
    }
    if line.reason:
        out["todo"] = line.reason.todo
    optional = {"net_cents": line.net_cents, "claimed_cents": line.claimed_cents, "asp_code": line.asp_code,
                "paid_on": line.paid_on.isoformat() if line.paid_on else None,
                "order_posted_on": line.order_posted_on.isoformat() if line.order_posted_on else None}
    out.update({key: value for key, value in optional.items() if value is not None})
    if line.asp_ids:
        ids = {"individual": line.asp_ids.individual, "dossier": line.asp_ids.dossier,
               "prestation": line.asp_ids.prestation, "prestation_numadm": line.asp_ids.prestation_numadm,
               "duplicate_individual": line.asp_ids.duplicate_individual}
        out["asp_ids"] = {key: value for key, value in ids.items() if value is not None}
    if len(line.prestation_ids) > 1:
        out["prestation_ids"] = list(line.prestation_ids)
    return out


def read_return(path: Path, out: TextIO, err: TextIO) -> int:
    try:
        parsed = read_return_file(path)
    except ReturnFileRefused as refused:
        where = f" (line {refused.line_no})" if refused.line_no is not None else ""
        err.write(f"read-return: cannot read {path.name}: {refused.code}: {refused.reason}{where}\n")
        return EXIT_UNREADABLE
    for line in parsed.lines:
        out.write(json.dumps(line_json(line), ensure_ascii=False) + "\n")
    return 0
