"""The ASP's CSV answers as text and rows (asp-exchange.md §3.3): Windows-1252/ISO-8859-1 (the ASP's "ANSI"),
`;`, a header line, LF or CRLF, no quoting seen (`"` accepted), an empty last field leaving a trailing `;`.

Encoding: a UTF-8 BOM means UTF-8; bytes that are valid UTF-8 *and* not ASCII are read as UTF-8 (the fake
server's option; accented Windows-1252 text is in practice never valid UTF-8); anything else is Windows-1252,
strictly, so the five bytes it leaves undefined refuse the file instead of becoming garbage.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from aplypro_asp_gateway.adapters.returns.errors import (
    BadEncoding,
    EmptyReturnFile,
    MalformedCsv,
    MissingHeader,
    TruncatedReturnFile,
    WrongColumnCount,
)

INTEGRATIONS_HEADER = ("Numero enregistrement", "idIndDoss", "idIndTiers", "idDoss", "numAdmDoss", "idPretaDoss",
                       "numAdmPrestaDoss", "idIndPrestaDoss")
REJECTS_HEADER = ("Numéro d'enregistrement", "Type d'entité", "Numadm", "Motif rejet", "idIndDoublon")

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

Row = list[str | None]


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the encoding it was read with."""
    if not data.strip():
        raise EmptyReturnFile("the file has no content")
    if data.startswith(_UTF16_BOMS) or b"\x00" in data:
        raise BadEncoding("UTF-16 or binary content where Windows-1252 text is expected")
    if data.startswith(_UTF8_BOM):
        try:
            return data[len(_UTF8_BOM):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise BadEncoding("a UTF-8 BOM followed by bytes that are not UTF-8",
                              data[:exc.start].count(b"\n") + 1) from None
    if not data.isascii():
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise BadEncoding("a byte undefined in Windows-1252", data[:exc.start].count(b"\n") + 1) from None


def _cells(row: list[str]) -> Row:
    return [cell.strip() or None for cell in row]


def _header(row: list[str]) -> tuple[str, ...]:
    cells = [cell.strip() for cell in row]
    while cells and not cells[-1]:  # a trailing `;` on the header too
        cells.pop()
    return tuple(cells)


def header_columns(head: bytes) -> tuple[str, ...]:
    """The first line's columns, decoded leniently (for kind detection only)."""
    line = head.removeprefix(_UTF8_BOM).split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = line.decode("cp1252", errors="replace")
    return _header(text.split(";"))


def rows(text: str, header: tuple[str, ...], free_text: int | None = None) -> Iterator[tuple[int, Row]]:
    """(physical line number, cells) of each non-blank data line; cells stripped, empty → None.

    A line with more cells than the header is accepted only when `free_text` names the column that may hold a
    stray `;` (the reject motif): the extra cells are joined back into it. Fewer cells on the last line of a
    file without its final newline means the file was cut: `truncated`."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", quotechar='"', strict=True)
    width = len(header)
    ends_open = not text.endswith(("\n", "\r"))
    try:
        first = next(reader, None)
        if first is None or _header(first) != header:
            raise MissingHeader(f"the first line is not the header of {len(header)} columns expected", 1)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank line (a trailing empty line is common)
            if len(row) > width and free_text is not None:
                extra = len(row) - width
                row = [*row[:free_text], ";".join(row[free_text:free_text + extra + 1]),
                       *row[free_text + extra + 1:]]
            elif len(row) == width + 1 and not row[-1].strip():
                row = row[:-1]  # one `;` too many after the last field
            if len(row) != width:
                line_no = reader.line_num
                if len(row) < width and ends_open and next(reader, None) is None:
                    raise TruncatedReturnFile(f"the last line stops after {len(row)} of {width} columns",
                                              line_no)
                raise WrongColumnCount(f"{len(row)} columns where the header has {width}", line_no)
            yield reader.line_num, _cells(row)
    except csv.Error:
        # csv's message may quote the cell: not echoed. An open quote running to the end is a cut file.
        line_no = reader.line_num
        if line_no >= text.count("\n") + (1 if ends_open else 0):
            raise TruncatedReturnFile("a quoted cell is still open at the end of the file", line_no) from None
        raise MalformedCsv("a quoted cell is malformed", line_no) from None
