"""Lay out a document's shared content once per group, then only each student's own lines.

In a bulk issue, decisions of one establishment, MEF and year differ only in the summary's
first three values and article 1; the section pages of états liquidatifs of one establishment,
year, ministry and programme, signatory and kind (rectificatif or not) differ only in the
summary's values, the état liquidatif's number, the table's per-student values and the closing.
The "static" layer of such a page (everything else, with those slots left empty at a fixed
minimum height) is laid out once per group and cached per worker. The stamps of a whole chunk
(one per DA, one per section page of an état liquidatif) are laid out together on one page,
absolutely placed over their slots (they overlap); split_layers() cuts that page's drawing into
one layer per stamp, and assembly.py stacks a layer over its static page. The full templates keep
the same minimum heights, so render_one() prints exactly the same pages; a document whose lines
do not fit a slot is laid out in full instead.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, pairwise
from typing import Any

from aplypro_documents.domain.model import (
    AttributionDecision,
    Document,
    DocumentKind,
    LiquidationSection,
    LiquidationStatement,
)
from aplypro_documents.rendering import _weasy
from aplypro_documents.rendering.templates import BASE_URL, fragment, page

# The per-student slots of each stamped kind, in runs: a run of one-line slots at an even pitch (table
# rows) is stamped as one block of lines, the rows' pitch apart (a block costs more than its lines).
RUNS: dict[DocumentKind, tuple[tuple[str, ...], ...]] = {
    DocumentKind.ATTRIBUTION: (("summary",), ("article1",)),
    DocumentKind.LIQUIDATION: (("summary",), ("beneficiary",), ("decision", "pfmp", "year", "period", "amount"),
                               ("iban", "bic", "holder"), ("closing",)),
}  # fmt: skip
TEMPLATE_ANCHOR = "tpl"
_TOLERANCE_PX = 0.01  # float noise when comparing laid-out heights


@dataclass(frozen=True, slots=True)
class SlotBox:
    """A stamp block's box (one slot, or a run of one-line slots), relative to the page content area, in CSS px."""

    names: tuple[str, ...]  # the slots it prints, one a line when more than one
    left: float
    top: float
    width: float
    height: float  # the room it has: a taller stamp overflows
    lines: bool  # the block keeps its text's newlines (white-space: pre-line)
    line_height: float | None = None  # a run's rows' pitch; None: the stylesheet's


def _run_box(run: tuple[str, ...], slots: dict[str, SlotBox]) -> SlotBox | None:
    """One block for a run of slots; None when a run's slots are not one-line rows at an even pitch."""
    first = slots[run[0]]
    if len(run) == 1:
        return first
    pitch = slots[run[1]].top - first.top
    if any(abs(slot.left - first.left) > _TOLERANCE_PX or abs(slot.width - first.width) > _TOLERANCE_PX
           or abs(slot.height - first.height) > _TOLERANCE_PX or abs(slot.top - first.top - k * pitch) > _TOLERANCE_PX
           for k, slot in enumerate(slots[name] for name in run)):  # fmt: skip
        return None
    # A line as tall as the pitch puts its baseline (pitch - line height) / 2 lower than the slot's own line
    # does: the block starts that much higher, and each line's text lands where the slot's would.
    top = first.top - (pitch - first.height) / 2
    return SlotBox(run, first.left, top, first.width, pitch * len(run), lines=True, line_height=pitch)


@dataclass(frozen=True, slots=True)
class StaticLayout:
    pages: tuple[Any, ...]  # weasyprint Page objects of the static layer
    slot_page: int
    boxes: dict[str, SlotBox]  # by the first slot's name: the stamp's blocks, drawn in this order


@dataclass(frozen=True, slots=True)
class Stamp:
    """One stamped page group: a DA, or one section page of an état liquidatif, over its static layout."""

    doc: AttributionDecision | LiquidationStatement
    section: LiquidationSection | None
    layout: StaticLayout


def static_html(doc: AttributionDecision | LiquidationStatement, section: LiquidationSection | None = None) -> str:
    """The static layer's HTML: equal for every document of a group, so it is the cache key.

    Keying on the HTML rather than on fields means data that is never printed (such as the
    signatory's confirmation time) cannot split a group into many layouts.
    """
    return page(fragment(doc, f"{TEMPLATE_ANCHOR}-0", layer="static", section=section), "static layer", None)


def stamps_of(doc: Document, stylesheets: tuple[Any, ...], font_config: Any) -> list[Stamp] | None:
    """A document's stamps (one per DA, one per section of an état liquidatif); None when it is laid
    out in full (another kind, or a static layer whose slots cannot be stamped)."""
    parts: list[tuple[AttributionDecision | LiquidationStatement, LiquidationSection | None]]
    match doc:
        case AttributionDecision():
            parts = [(doc, None)]
        case LiquidationStatement():
            parts = [(doc, section) for section in doc.sections]
        case _:
            return None
    stamps = []
    for owner, section in parts:
        layout = static_layout(static_html(owner, section), RUNS[doc.kind], stylesheets, font_config)
        if layout is None:
            return None
        stamps.append(Stamp(owner, section, layout))
    return stamps


def stamp_anchor(doc_anchor: str, number: int) -> str:
    """Id prefix of a document's number-th stamp on the stamp page (no "-": slot ids split on it)."""
    return f"{doc_anchor}.{number}"


def boxes_by_id(box: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for child in box.descendants():
        element = getattr(child, "element", None)
        if element is not None and child.element_tag != "html":
            box_id = element.get("id")
            if box_id and box_id.startswith(prefix) and box_id.count("-") >= 2:
                yield box_id, child


# A worker sees a few establishments' classes in a row, and états liquidatifs of many establishments.
@lru_cache(maxsize=128)
def static_layout(
    html: str, runs: tuple[tuple[str, ...], ...], stylesheets: tuple[Any, ...], font_config: Any
) -> StaticLayout | None:
    """Lay out the static layer; None when the slots cannot be stamped (not on one page, a run uneven)."""
    document = _weasy.HTML(string=html, base_url=BASE_URL).render(
        stylesheets=list(stylesheets), font_config=font_config
    )
    found: dict[str, tuple[int, SlotBox]] = {}
    for number, layout_page in enumerate(document.pages):
        page_box = layout_page._page_box
        origin_x, origin_y = page_box.content_box_x(), page_box.content_box_y()
        for box_id, box in boxes_by_id(page_box, f"{TEMPLATE_ANCHOR}-0-"):
            name = box_id.rsplit("-", 1)[1]
            found.setdefault(name, (number, SlotBox(
                (name,), box.content_box_x() - origin_x, box.content_box_y() - origin_y, box.width, box.height,
                "lines" in (box.element.get("class") or "").split(),
            )))  # fmt: skip
    if set(found) != {name for run in runs for name in run} or len({number for number, _ in found.values()}) != 1:
        return None
    boxes = [_run_box(run, {name: slot for name, (_, slot) in found.items()}) for run in runs]
    if None in boxes:
        return None
    slot_page = next(iter(found.values()))[0]
    return StaticLayout(tuple(document.pages), slot_page, {box.names[0]: box for box in boxes if box})


def stamp_heights(stamp_page: Any) -> dict[str, float]:
    """Laid-out height of every stamp block on the page, by element id (one walk per chunk)."""
    heights: dict[str, float] = {}
    for box_id, box in boxes_by_id(stamp_page._page_box, ""):
        heights.setdefault(box_id, box.height)  # the outer box comes first
    return heights


def overflowing(heights: dict[str, float], anchor: str, layout: StaticLayout) -> bool:
    """True when a stamp's lines need more room than their slot (long name or address)."""
    return any(
        heights.get(f"{anchor}-{name}", 0) > box.height + _TOLERANCE_PX for name, box in layout.boxes.items()
    )


def stacked_pages(layout_offset: int, layout: StaticLayout, stamp: bytes) -> list[list[int | bytes]]:
    """Output pages of one stamp: each static page, with the stamp drawn over the slot page."""
    return [
        [layout_offset + number, stamp] if number == layout.slot_page else [layout_offset + number]
        for number in range(len(layout.pages))
    ]


def split_layers(items: Sequence[bytes], boxes: Sequence[int]) -> list[bytes] | None:
    """Cut a page's content stream (pydyf items, one operator each) into one stream per layer,
    layer k holding the next boxes[k] boxes.

    Every absolutely positioned box is painted inside its own `q … Q` group; on a page holding
    only such boxes, those groups are the first set of sibling groups below the page's single
    wrapping groups, in document order. A layer keeps the wrappers (transforms) and its boxes'
    groups. None when the page does not have that shape, so the caller can fall back.
    """
    if not boxes:
        return []
    children: dict[int, list[tuple[int, int]]] = {-1: []}
    open_groups: list[int] = []
    for index, item in enumerate(items):
        if item == b"q":
            open_groups.append(index)
            children[index] = []
        elif item == b"Q":
            start = open_groups.pop()
            children[open_groups[-1] if open_groups else -1].append((start, index))
    node = -1
    while len(children[node]) == 1:
        node = children[node][0][0]
    groups = children[node]
    if len(groups) != sum(boxes) or any(end + 1 != start for (_, end), (start, _) in pairwise(groups)):
        return None
    prefix, suffix = items[: groups[0][0]], items[groups[-1][1] + 1 :]
    ends = list(accumulate(boxes))
    cuts = [groups[end - size : end] for size, end in zip(boxes, ends, strict=True)]
    return [b"\n".join([*prefix, *items[own[0][0] : own[-1][1] + 1], *suffix]) for own in cuts]


def distinct_layouts(stamps: Sequence[Stamp]) -> list[StaticLayout]:
    seen: dict[int, StaticLayout] = {}
    for stamp in stamps:
        seen.setdefault(id(stamp.layout), stamp.layout)
    return list(seen.values())
