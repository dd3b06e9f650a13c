"""Why a whole return file is refused (asp-exchange.md §9.2 G3/G4: a truncated or malformed file is refused
whole and read again when complete).

Each refusal has a stable `code`; its text names line numbers, element or column names only, never a value
read from the file (a value may be a name or an IBAN). lxml's own messages are not echoed for that reason.
"""

from __future__ import annotations

from aplypro_asp_gateway.domain.errors import GatewayError


class ReturnFileRefused(GatewayError):
    code = "return_file_refused"

    def __init__(self, reason: str, line_no: int | None = None) -> None:
        self.reason = reason
        self.line_no = line_no
        where = f" (line {line_no})" if line_no is not None else ""
        super().__init__(f"{self.code}: {reason}{where}")


class ReturnFileNotFound(ReturnFileRefused):
    code = "file_not_found"


class UnknownReturnKind(ReturnFileRefused):
    """Neither the name (§3.2) nor the content says which return this is: quarantine it (G7)."""

    code = "unknown_return_kind"


class EmptyReturnFile(ReturnFileRefused):
    code = "empty_file"


class TruncatedReturnFile(ReturnFileRefused):
    """The bytes stop before the end (an XML without its closing element, a CSV cut inside a line)."""

    code = "truncated"


class MalformedXml(ReturnFileRefused):
    code = "xml_not_well_formed"


class UnexpectedRoot(ReturnFileRefused):
    """A payments file whose root is not LISTEPAIEMENT, a recovery file whose root is not LISTEOR."""

    code = "unexpected_root"


class BadEncoding(ReturnFileRefused):
    code = "bad_encoding"


class MissingHeader(ReturnFileRefused):
    """The first line is not the exact header of §5.1/§5.2."""

    code = "missing_header"


class WrongColumnCount(ReturnFileRefused):
    code = "wrong_column_count"


class MalformedCsv(ReturnFileRefused):
    code = "malformed_csv"
