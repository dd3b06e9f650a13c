"""Cut one weasyprint batch PDF (a pydyf object graph) into small standalone PDFs.

weasyprint's own per-document write re-serialises and re-compresses fonts for every file, which
costs more than the layout of a short document. Here everything the outputs share (resources,
fonts, colour profile) is serialised once per batch and each PDF is a byte concatenation:
catalog, pages, info and XMP metadata of its own, the shared objects, its pages' content streams.
An output page may stack several batch pages (a DA's shared layout and its student's layer).
"""

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pydyf

from aplypro_documents.rendering._weasy import PRODUCER

_REF = re.compile(rb"(\d+) 0 R")
HEADER = b"%PDF-1.7\n%\xf0\x9f\x96\xa4\n"  # PDF/A-2 is PDF 1.7; the comment marks the file as binary
XMP_HEADER = b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/">'
XMP_FOOTER = b'</x:xmpmeta>\n<?xpacket end="r"?>'
ZLIB_LEVEL = 6  # level 9 (pydyf's) is several times slower for a few per cent of bytes


@dataclass(frozen=True, slots=True)
class OutputPdf:
    # Per output page, its layers bottom first: a batch page's index, or raw content-stream bytes.
    pages: Sequence[Sequence[int | bytes]]
    metadata: Any  # weasyprint DocumentMetadata: title, lang, created
    identifier: bytes


def _number(reference: bytes) -> int:
    return int(reference.split()[0])


def _stream_bytes(content: bytes, stacked: bool) -> bytes:
    if stacked:
        # A layer drawn over another is wrapped in q … Q: weasyprint leaves its transform set.
        content = b"q\n" + content + b"\nQ"
    packed = zlib.compress(content, ZLIB_LEVEL)
    return b"<</Filter /FlateDecode/Length %d>>\nstream\n%s\nendstream" % (len(packed), packed)


def _dictionary_part(obj: Any) -> bytes:
    return pydyf.Dictionary(obj.extra).data if isinstance(obj, pydyf.Stream) else bytes(obj.data)


class BatchAssembler:
    """Holds one batch PDF's shared objects, renumbered and serialised once."""

    def __init__(self, pdf: Any) -> None:
        self._pdf = pdf
        self._pages = [pdf.objects[number] for number in pdf.pages["Kids"][::3]]
        roots = [_number(self._pages[0]["Resources"])] if self._pages else []
        intents = pdf.catalog.get("OutputIntents")
        if intents is not None:
            roots += [int(n) for n in _REF.findall(pydyf._to_bytes(intents))]
        # Objects 1–4 are each output's catalog, page tree, info and metadata.
        self._renumber: dict[int, int] = {}
        order = self._closure(roots)
        for new, old in enumerate(order, start=5):
            self._renumber[old] = new
        self._shared = [self._serialise(old) for old in order]
        self._intents = self._rewrite(pydyf._to_bytes(intents)) if intents is not None else None
        self._streams: dict[tuple[int, bool], bytes] = {}

    def _closure(self, roots: list[int]) -> list[int]:
        seen: list[int] = []
        todo = list(roots)
        while todo:
            number = todo.pop(0)
            if number in seen:
                continue
            seen.append(number)
            todo += [int(n) for n in _REF.findall(_dictionary_part(self._pdf.objects[number]))]
        return seen

    def _rewrite(self, data: bytes) -> bytes:
        return _REF.sub(lambda m: b"%d 0 R" % self._renumber[int(m.group(1))], data)

    def _serialise(self, number: int) -> bytes:
        obj = self._pdf.objects[number]
        if isinstance(obj, pydyf.Stream):
            # References live in the dictionary only; stream bytes are never rewritten.
            head, _, tail = bytes(obj.data).partition(b"\nstream\n")
            return self._rewrite(head) + b"\nstream\n" + tail
        return self._rewrite(bytes(obj.data))

    def _content(self, layer: int | bytes, stacked: bool) -> bytes:
        if isinstance(layer, bytes):
            return _stream_bytes(layer, stacked)
        key = (layer, stacked)
        if key not in self._streams:
            self._streams[key] = _stream_bytes(self.page_content(layer), stacked)
        return self._streams[key]

    def page_content(self, page_index: int) -> bytes:
        return b"\n".join(pydyf._to_bytes(item) for item in self.page_items(page_index))

    def page_items(self, page_index: int) -> list[Any]:
        """The content-stream items (one operator each) of a batch page."""
        return list(self._pdf.objects[_number(self._pages[page_index]["Contents"])].stream)

    def write(self, output: OutputPdf) -> bytes:
        bodies: list[bytes] = [b"", b"", self._info(output.metadata), _xmp(output.metadata)]
        bodies += self._shared
        kids = []
        for stack in output.pages:
            first = self._pages[next(layer for layer in stack if isinstance(layer, int))]
            page_number = len(bodies) + 1
            contents = [page_number + 1 + offset for offset in range(len(stack))]
            refs = b" ".join(b"%d 0 R" % number for number in contents)
            page = b"<</Type /Page/Parent 2 0 R/MediaBox %s/TrimBox %s/BleedBox %s/Contents [%s]/Resources %d 0 R>>" % (
                first["MediaBox"].data, first["TrimBox"].data, first["BleedBox"].data, refs,
                self._renumber[_number(first["Resources"])],
            )  # fmt: skip
            bodies.append(page)
            bodies += [self._content(layer, len(stack) > 1) for layer in stack]
            kids.append(page_number)
        # Viewers show the title rather than the file name (as weasyprint does for a tagged PDF).
        catalog = b"<</Type /Catalog/Pages 2 0 R/Metadata 4 0 R/Lang %s/ViewerPreferences <</DisplayDocTitle true>>" % (
            pydyf.String("fr").data)  # fmt: skip
        if self._intents is not None:
            catalog += b"/OutputIntents " + self._intents
        bodies[0] = catalog + b">>"
        bodies[1] = b"<</Type /Pages/Kids [%s]/Count %d>>" % (
            b" ".join(b"%d 0 R" % kid for kid in kids), len(kids))  # fmt: skip
        return _serialise_file(bodies, output.identifier)

    def _info(self, metadata: Any) -> bytes:
        info = pydyf.Dictionary({"Producer": pydyf.String(PRODUCER)})
        info["Title"] = pydyf.String(metadata.title)
        info["Creator"] = pydyf.String(metadata.generator)
        if metadata.created:
            info["CreationDate"] = pydyf.String("D:" + metadata.created.replace("-", ""))
        return bytes(info.data)


def _xmp(metadata: Any) -> bytes:
    rdf = metadata.generate_rdf_metadata("a", 2, "B")  # PDF/A-2b identification, title, dates
    return pydyf.Stream([XMP_HEADER, rdf, XMP_FOOTER], {"Type": "/Metadata", "Subtype": "/XML"}).data  # type: ignore[no-any-return]


def _serialise_file(bodies: list[bytes], identifier: bytes) -> bytes:
    chunks = [HEADER]
    offsets = []
    position = len(HEADER)
    for number, body in enumerate(bodies, start=1):
        chunk = b"%d 0 obj\n%s\nendobj\n" % (number, body)
        offsets.append(position)
        chunks.append(chunk)
        position += len(chunk)
    size = len(bodies) + 1
    xref = [b"xref\n0 %d\n0000000000 65535 f \n" % size]
    xref += [b"%010d 00000 n \n" % offset for offset in offsets]
    ident = b"<%s>" % identifier.hex().encode()
    trailer = b"trailer\n<</Size %d/Root 1 0 R/Info 3 0 R/ID [%s %s]>>\nstartxref\n%d\n%%%%EOF\n" % (
        size, ident, ident, position)  # fmt: skip
    return b"".join([*chunks, *xref, trailer])
