"""Streaming read of the ASP's XML returns (asp-exchange.md §5.3, §5.4): one record element at a time with
lxml's iterparse, cleared once read, so a 7,000-record file needs neither the whole tree nor much time.

Elements are matched by local name, so files with or without the `http://www.cnasea.fr/fichier` namespace read
the same (§3.3); order is free and unknown elements are ignored. A file that is not well-formed is refused
whole; lxml's message is not echoed (it can quote text from the file), only a line number.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from aplypro_asp_gateway.adapters.returns.errors import (
    BadEncoding,
    EmptyReturnFile,
    MalformedXml,
    TruncatedReturnFile,
    UnexpectedRoot,
)
from aplypro_asp_gateway.adapters.returns.values import BadValue, asp_id
from aplypro_asp_gateway.domain.asp_errors import line_fault
from aplypro_asp_gateway.domain.return_lines import LineState, ReturnKind, ReturnLine

# libxml2 error numbers (xmlerror.h): bytes the declared encoding cannot read
_ENCODING_ERRORS = frozenset({9, 31, 32, 81})  # INVALID_CHAR, UNKNOWN_ENCODING, UNSUPPORTED_ENCODING, INVALID_ENCODING
_TAG_NOT_FINISHED = 77  # "Premature end of data in tag": the closing element never came
_EXTRA_CONTENT = 5  # content after the root: not a cut file


@dataclass
class XmlRecord:
    rank: int  # 1-based position among the records
    values: dict[str, str] = field(default_factory=dict)  # leaf local name → stripped text, first one wins
    prestation_ids: list[str] = field(default_factory=list)  # every IDPRESTADOSS, in file order
    prestation_numadms: list[str] = field(default_factory=list)

    @property
    def numadm(self) -> str | None:
        return self.prestation_numadms[0] if self.prestation_numadms else None


_LOCAL_NAMES: dict[object, str] = {}  # a file has a dozen distinct tags: strip each namespace once


def _local(tag: object) -> str:
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rpartition("}")[2] if isinstance(tag, str) else ""  # comments and PIs have no str tag
        if len(_LOCAL_NAMES) < 1024:  # bounded: a hostile file cannot grow it
            _LOCAL_NAMES[tag] = name
    return name


def _read(element: etree._Element, rank: int) -> XmlRecord:
    record = XmlRecord(rank)
    for node in element.iterdescendants():
        text = node.text
        if not text or len(node):
            continue
        text = text.strip()
        if not text:
            continue
        name = _local(node.tag)
        if name == "IDPRESTADOSS":
            record.prestation_ids.append(text)
        elif name == "NUMADM":
            record.prestation_numadms.append(text)
        else:
            record.values.setdefault(name, text)
    return record


def _refusal(exc: etree.XMLSyntaxError, data: bytes) -> Exception:
    line = exc.lineno or None
    if exc.code in _ENCODING_ERRORS:
        return BadEncoding("bytes the declared XML encoding cannot read", line)
    last_line = data.rstrip().count(b"\n") + 1
    if exc.code == _TAG_NOT_FINISHED or (exc.code != _EXTRA_CONTENT and line is not None and line >= last_line):
        return TruncatedReturnFile("the XML stops before its closing element", line)
    return MalformedXml("the XML is not well-formed", line)


def records(data: bytes, root: str, record: str) -> Iterator[XmlRecord]:
    """Each `record` element under a `root` document element. Consume it whole before acting on any record:
    a cut or malformed file raises at its end, after the records before the cut were yielded."""
    if not data.strip():
        raise EmptyReturnFile("the file has no content")
    context = etree.iterparse(io.BytesIO(data), events=("end",), tag=f"{{*}}{record}",
                              resolve_entities=False, no_network=True, load_dtd=False)
    rank = 0
    try:
        for _, element in context:
            rank += 1
            yield _read(element, rank)
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:  # drop the records already read, or the root keeps them all alive
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise _refusal(exc, data) from None
    found = _local(context.root.tag) if context.root is not None else ""
    if found != root:
        raise UnexpectedRoot(f"the document element is {found or 'missing'}, {root} expected")


def invalid_line(kind: ReturnKind, record: XmlRecord, bad: BadValue) -> ReturnLine:
    """A record whose values cannot be read: reported for an operator, never applied (§9.2 G4)."""
    return ReturnLine(kind, record.rank, LineState.INVALID, numadm=record.numadm, reason=line_fault(bad.code),
                      prestation_ids=tuple(record.prestation_ids))


def single_prestation(record: XmlRecord) -> str:
    """The match key (§5.3): exactly one IDPRESTADOSS. The existing system took the first of several; an amount
    cannot be split between prestations, so several make the line `invalid` for an operator to settle."""
    if not record.prestation_ids:
        raise BadValue("missing_prestation_id")
    if len(record.prestation_ids) > 1:
        raise BadValue("several_prestations")
    return asp_id(record.prestation_ids[0]) or ""
