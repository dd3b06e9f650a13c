"""Lay out a DA's shared content once per class, then only each student's own lines.

In a bulk issue, decisions of one establishment, MEF and year differ only in the summary's
first three values and article 1. The "static" layer (everything else, with those two slots left
empty at a fixed minimum height) is laid out once per class and cached per worker. The students'
blocks of a whole chunk are laid out together on one page, absolutely placed over their slots
(they overlap); split_layers() cuts that page's drawing into one layer per student, and
assembly.py stacks a layer over its static page. The full template keeps the same minimum
heights, so render_one() prints exactly the same page; a student whose lines do not fit the slot
is laid out in full instead.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

from aplypro_documents.domain.model import AttributionDecision
from aplypro_documents.rendering import _weasy
from aplypro_documents.rendering.templates import BASE_URL, fragment, page

SLOTS = ("summary", "article1")
TEMPLATE_ANCHOR = "tpl"
_TOLERANCE_PX = 0.01  # float noise when comparing laid-out heights


@dataclass(frozen=True, slots=True)
class SlotBox:
    """A slot's content box, relative to the page content area, in CSS px."""

    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class StaticLayout:
    pages: tuple[Any, ...]  # weasyprint Page objects of the static layer
    slot_page: int
    slots: dict[str, SlotBox]


def static_html(doc: AttributionDecision) -> str:
    """The static layer's HTML: equal for every decision of a class, so it is the cache key.

    Keying on the HTML rather than on fields means data that is never printed (such as the
    signatory's confirmation time) cannot split a class into many layouts.
    """
    return page(fragment(doc, f"{TEMPLATE_ANCHOR}-0", layer="static"), "static layer", None)


def boxes_by_id(box: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for child in box.descendants():
        element = getattr(child, "element", None)
        if element is not None and child.element_tag != "html":
            box_id = element.get("id")
            if box_id and box_id.startswith(prefix) and box_id.count("-") >= 2:
                yield box_id, child


@lru_cache(maxsize=64)  # a worker sees a few establishments' classes in a row
def static_layout(html: str, stylesheets: tuple[Any, ...], font_config: Any) -> StaticLayout | None:
    """Lay out the static layer; None when the slots cannot be stamped (not on one page)."""
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
                box.content_box_x() - origin_x, box.content_box_y() - origin_y, box.width, box.height,
            )))  # fmt: skip
    if set(found) != set(SLOTS) or len({number for number, _ in found.values()}) != 1:
        return None
    slot_page = next(iter(found.values()))[0]
    return StaticLayout(tuple(document.pages), slot_page, {name: slot for name, (_, slot) in found.items()})


def stamp_heights(stamp_page: Any) -> dict[str, float]:
    """Laid-out height of every stamp block on the page, by element id (one walk per chunk)."""
    heights: dict[str, float] = {}
    for box_id, box in boxes_by_id(stamp_page._page_box, ""):
        heights.setdefault(box_id, box.height)  # the outer box comes first
    return heights


def overflowing(heights: dict[str, float], anchor: str, layout: StaticLayout) -> bool:
    """True when a student's lines need more room than the slot (long name or address)."""
    return any(
        heights.get(f"{anchor}-{name}", 0) > slot.height + _TOLERANCE_PX for name, slot in layout.slots.items()
    )


def stacked_pages(layout_offset: int, layout: StaticLayout, stamp: bytes) -> list[list[int | bytes]]:
    """Output pages of a stamped DA: each static page, with the stamp drawn over the slot page."""
    return [
        [layout_offset + number, stamp] if number == layout.slot_page else [layout_offset + number]
        for number in range(len(layout.pages))
    ]


def split_layers(items: Sequence[bytes], layers: int, boxes_per_layer: int = len(SLOTS)) -> list[bytes] | None:
    """Cut a page's content stream (pydyf items, one operator each) into one stream per layer.

    Every absolutely positioned box is painted inside its own `q … Q` group; on a page holding
    only such boxes, those groups are the first set of sibling groups below the page's single
    wrapping groups, in document order. A layer keeps the wrappers (transforms) and its boxes'
    groups. None when the page does not have that shape, so the caller can fall back.
    """
    if layers == 0:
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
    if len(groups) != layers * boxes_per_layer or any(
        end + 1 != start for (_, end), (start, _) in pairwise(groups)
    ):
        return None
    prefix, suffix = items[: groups[0][0]], items[groups[-1][1] + 1 :]
    cuts = [groups[k * boxes_per_layer : (k + 1) * boxes_per_layer] for k in range(layers)]
    return [b"\n".join([*prefix, *items[own[0][0] : own[-1][1] + 1], *suffix]) for own in cuts]


def distinct_layouts(layouts: Sequence[StaticLayout | None]) -> list[StaticLayout]:
    seen: dict[int, StaticLayout] = {}
    for layout in layouts:
        if layout is not None:
            seen.setdefault(id(layout), layout)
    return list(seen.values())
