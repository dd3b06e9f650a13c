"""What an import reports: (line, column, reason) triples, never the cell value (personal data)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RowError:
    line: int  # 1 is the header; 0 means the command itself (an option)
    column: str
    code: str  # stable, e.g. `iban.sepa`
    reason: str  # human text, without the value

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.code} ({self.reason})"


class InvalidFile(ValueError):
    """The file cannot be imported at all (bad header, unknown establishment, or rows refused)."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} error(s) in the file")
        self.errors = errors
