"""Documents to PDF bytes with weasyprint: one call per document, or one pass per chunk.

Pure: data in, bytes out. The fast path lays out a whole chunk as one HTML document, with each
DA, and each section page of an état liquidatif, reduced to its student's own lines over a layout
shared by its group (stamping.py), draws it once, then cuts one standalone PDF per document out of
it (assembly.py).

Accessibility (documents.md §9.6): every PDF from either path declares /Lang fr, its title (/Title,
XMP dc:title, shown by viewers through /DisplayDocTitle) and PDF/A-2b. Only the naive path is tagged
(/StructTreeRoot, /MarkInfo): see render_one and render_many for why.
"""

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, cast

import structlog

from aplypro_documents.domain.model import Document
from aplypro_documents.rendering import _weasy, stamping
from aplypro_documents.rendering.assembly import BatchAssembler, OutputPdf
from aplypro_documents.rendering.templates import (
    BASE_URL,
    HERE,
    anchor,
    batch_page,
    fragment,
    html_for,
    issued_on,
    pdf_identifier,
    stamp_sheet,
    title,
)

log = structlog.get_logger(__name__)

# bench/documents.py on 2 cores, 1000 DAs in classes of 28: 64 → ~290/s, 96 → ~305/s, 128 → ~270/s
# (fewer chunks than workers can keep busy at the end of a run).
DEFAULT_CHUNK_SIZE: Final = 96

STAMPS_ANCHOR: Final = "stamps"  # id of the one page holding a chunk's per-student blocks
OUTPUT_INTENT: Final = "--srgb"
PDF_OPTIONS: Final[dict[str, Any]] = {
    # PDF/A-2b: embedded fonts, sRGB output intent, XMP metadata; deterministic in weasyprint 70.
    # Shared by both paths; the naive path adds TAGGED_OPTIONS.
    "pdf_variant": "pdf/a-2b",
    # Our own copy of weasyprint's sRGB profile: its built-in "srgb" intent leaves the ICC file
    # open on every render (a ResourceWarning each time).
    "output_intent": OUTPUT_INTENT,
}


# A tagged PDF (structure tree of H1/H2/P/Table, /MarkInfo, /DisplayDocTitle) on the naive path:
# +4–8 % per document (2–9 ms on 40–125 ms) and +1.4–3.9 KiB, measured on the four kinds with and
# without libharfbuzz-subset0 (weasyprint 70, 2 cores, median of 40). Still identified as PDF/A-2b: pdf/a-2a costs the same but claims the
# accessible level, which wants a validator's (veraPDF) pass before we print it on 650,000 files.
TAGGED_OPTIONS: Final[dict[str, Any]] = {"pdf_tags": True}


class RenderError(RuntimeError):
    code = "render_error"


@dataclass(frozen=True, slots=True)
class _Toolkit:
    font_config: Any
    stylesheets: tuple[Any, ...]
    color_profiles: dict[str, Any]
    options: dict[str, Any]


@cache
def _toolkit() -> _Toolkit:
    """One font configuration and one parsed stylesheet per process, built on first use."""
    options = dict(PDF_OPTIONS)
    if not _weasy.harfbuzz_subset_available():
        log.warning(
            "harfbuzz_subset_missing",
            hint="install the Debian package libharfbuzz-subset0: rendering is several times slower",
        )
        # fontTools stamps each subset with the current time (non-reproducible bytes) and is slow:
        # embed the shipped, already subset fonts whole instead (about 45 KiB more per PDF).
        options["full_fonts"] = True
    font_config = _weasy.FontConfiguration()
    profiles: dict[str, Any] = {}
    icc = base64.b64encode(_weasy.srgb_profile()).decode()
    intent = _weasy.CSS(
        string=f"@color-profile {OUTPUT_INTENT} {{ src: url(data:application/vnd.iccprofile;base64,{icc}); components: r g b }}",
        color_profiles=profiles,
    )
    stylesheet = _weasy.CSS(filename=str(HERE / "print.css"), font_config=font_config)
    return _Toolkit(font_config, (stylesheet, intent), profiles, options)


def _metadata(doc: Document) -> Any:
    return _weasy.DocumentMetadata(
        title=title(doc), lang="fr", generator="APLyPro", created=issued_on(doc).isoformat()
    )


def _write_options(kit: _Toolkit) -> dict[str, Any]:
    """weasyprint's defaults, ours, then the variant's (as Document.write_pdf resolves them)."""
    options = {**_weasy.DEFAULT_OPTIONS, **kit.options}
    _, properties = _weasy.VARIANTS[options["pdf_variant"]]
    options.update({key: value for key, value in properties.items() if options.get(key) is None})
    return options


def render_one(doc: Document) -> bytes:
    """Naive path: one weasyprint parse, layout and write for one document, tagged (TAGGED_OPTIONS).

    /Lang comes from `<html lang="fr">`, /Title and the XMP title from `<title>` (page.html).
    """
    kit = _toolkit()
    html = _weasy.HTML(string=html_for(doc), base_url=BASE_URL)
    pdf = html.write_pdf(
        stylesheets=list(kit.stylesheets),
        font_config=kit.font_config,
        color_profiles=dict(kit.color_profiles),
        pdf_identifier=pdf_identifier(doc),
        **kit.options,
        **TAGGED_OPTIONS,
    )
    return cast(bytes, pdf)


def render_many(docs: Sequence[Document], *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[bytes]:
    """Fast path: one PDF per document, in input order, `chunk_size` documents per layout pass.

    Its PDFs carry /Lang fr, their own title and /DisplayDocTitle (assembly.py) but are not tagged:
    weasyprint builds one structure tree per batch, whose marked-content ids are numbered per batch
    page and whose elements point at batch pages. A stamped page stacks its group's shared page and its
    student's layer, cut out of a page holding the whole chunk's students, into one output page, so
    neither the ids nor the tree can be carried over. A document laid out in full by the fallback (lines
    longer than their slot) goes through render_one and is tagged.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    pdfs: list[bytes] = []
    for start in range(0, len(docs), chunk_size):
        pdfs.extend(_render_chunk(docs[start : start + chunk_size]))
    return pdfs


def _render_chunk(docs: Sequence[Document]) -> list[bytes]:
    started = time.perf_counter()
    kit = _toolkit()
    stamped: list[list[stamping.Stamp] | None] = []
    fragments, sheet = [], []
    for index, doc in enumerate(docs):
        stamps = stamping.stamps_of(doc, kit.stylesheets, kit.font_config)
        stamped.append(stamps)
        if stamps is None:
            fragments.append(fragment(doc, anchor(index)))
            continue
        for number, stamp in enumerate(stamps):
            sheet.append((stamp.doc, stamp.section, stamping.stamp_anchor(anchor(index), number), stamp.layout.boxes))
    if sheet:
        fragments.append(stamp_sheet(sheet, STAMPS_ANCHOR))
    html = _weasy.HTML(string=batch_page(fragments), base_url=BASE_URL)
    batch = html.render(
        stylesheets=list(kit.stylesheets), font_config=kit.font_config,
        color_profiles=dict(kit.color_profiles), **kit.options,
    )  # fmt: skip
    anchors = [anchor(index) for index, stamps in enumerate(stamped) if stamps is None]
    bounds = _page_bounds(batch.pages, anchors + ([STAMPS_ANCHOR] if sheet else []))

    # Static layers first, then the batch pages, in one PDF drawn once.
    statics = stamping.distinct_layouts([stamp for stamps in stamped if stamps for stamp in stamps])
    offsets: dict[int, int] = {}
    pages: list[Any] = []
    for layout in statics:
        offsets[id(layout)] = len(pages)
        pages.extend(layout.pages)
    batch_offset = len(pages)
    pages.extend(batch.pages)
    whole = _weasy.Document(
        pages, _weasy.DocumentMetadata(lang="fr"), batch.url_fetcher, kit.font_config,
        batch.color_profiles, batch.output_intent,
    )  # fmt: skip
    assembler = BatchAssembler(_weasy.generate_pdf(whole, None, 1, **_write_options(kit)))
    layers: list[bytes] | None = []
    heights: dict[str, float] = {}
    if sheet:
        stamp_page = bounds[STAMPS_ANCHOR][0]
        heights = stamping.stamp_heights(batch.pages[stamp_page])
        items = assembler.page_items(batch_offset + stamp_page)
        layers = stamping.split_layers(items, [len(boxes) for _, _, _, boxes in sheet])
        if layers is None:
            log.warning("stamp_page_unexpected", stamps=len(sheet))  # every stamped document in full

    pdfs, fallbacks, next_layer = [], 0, 0
    for index, (doc, stamps) in enumerate(zip(docs, stamped, strict=True)):
        if stamps is None:
            first, last = bounds[anchor(index)]
            stacks: list[list[int | bytes]] = [[batch_offset + number] for number in range(first, last)]
        else:
            own, next_layer = range(next_layer, next_layer + len(stamps)), next_layer + len(stamps)
            if layers is None or any(
                stamping.overflowing(heights, stamping.stamp_anchor(anchor(index), number), stamp.layout)
                for number, stamp in enumerate(stamps)
            ):
                fallbacks += 1  # lines longer than their slot: lay this one out in full
                pdfs.append(render_one(doc))
                continue
            stacks = [page for stamp, layer in zip(stamps, own, strict=True)
                      for page in stamping.stacked_pages(offsets[id(stamp.layout)], stamp.layout, layers[layer])]
        pdfs.append(assembler.write(OutputPdf(stacks, _metadata(doc), pdf_identifier(doc))))
    log.debug(
        "chunk_rendered",
        documents=len(docs),
        static_layouts=len(statics),
        fallbacks=fallbacks,
        seconds=round(time.perf_counter() - started, 3),
    )
    return pdfs


def _page_bounds(pages: Sequence[Any], anchors: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Page range of each sheet group, found by the anchor on its first element."""
    firsts: dict[str, int] = {}
    wanted = set(anchors)
    for number, layout_page in enumerate(pages):
        for name in layout_page.anchors:
            if name in wanted:
                firsts.setdefault(name, number)
    if len(firsts) != len(wanted):
        raise RenderError(f"found {len(firsts)} document starts for {len(wanted)} documents")
    starts = [firsts[name] for name in anchors]
    if starts != sorted(starts) or len(set(starts)) != len(starts):
        raise RenderError("documents do not start on distinct, ordered pages")
    ends = [*starts[1:], len(pages)]
    return {name: (start, end) for name, start, end in zip(anchors, starts, ends, strict=True)}
