"""Reading the ASP's return files offline (asp-exchange.md §5): detect the kind, decode, parse every line into
a `ReturnLine`, or refuse the whole file with a `ReturnFileRefused` carrying a stable `code`.

Nothing here touches the database or the broker: matching lines to what was sent is the caller's job.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aplypro_asp_gateway.adapters.returns.csv_text import decode
from aplypro_asp_gateway.adapters.returns.detect import HEAD_BYTES, detect_kind
from aplypro_asp_gateway.adapters.returns.errors import ReturnFileNotFound, ReturnFileRefused
from aplypro_asp_gateway.adapters.returns.integrations import read_integrations
from aplypro_asp_gateway.adapters.returns.payments import read_payments
from aplypro_asp_gateway.adapters.returns.recovery_orders import read_recovery_orders
from aplypro_asp_gateway.adapters.returns.rejects import read_rejects
from aplypro_asp_gateway.domain.return_lines import ReturnFile, ReturnKind, ReturnLine

__all__ = ["ReturnFileRefused", "read_return_bytes", "read_return_file"]


def read_return_bytes(name: str, data: bytes, by_content: bool = True) -> ReturnFile:
    """Parse one return file whole: every line, or a `ReturnFileRefused` and nothing."""
    detected = detect_kind(name, data[:HEAD_BYTES], by_content)
    encoding: str | None = None
    lines: list[ReturnLine]
    if detected.kind is ReturnKind.PAYMENTS:
        lines = read_payments(data)
    elif detected.kind is ReturnKind.RECOVERY_ORDERS:
        lines = read_recovery_orders(data)
    else:
        text, encoding = decode(data)
        if detected.kind in (ReturnKind.INTEGRATIONS, ReturnKind.CORRECTION_INTEGRATIONS):
            lines = read_integrations(text, detected.kind)
        else:
            lines = read_rejects(text, detected.kind)
    return ReturnFile(name=name, kind=detected.kind, sha256=hashlib.sha256(data).hexdigest(),
                      lines=tuple(lines), upload_name=detected.upload_name, encoding=encoding)


def read_return_file(path: Path, by_content: bool = True) -> ReturnFile:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise ReturnFileNotFound("no readable file at the path given") from None
    return read_return_bytes(path.name, data, by_content)
