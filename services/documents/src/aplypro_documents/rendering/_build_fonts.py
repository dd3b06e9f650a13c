"""Rebuild the shipped fonts: DejaVu Serif cut down once to the Latin glyphs French text needs.

Run `python -m aplypro_documents.rendering._build_fonts [SOURCE_DIR]` (Debian: fonts-dejavu-core).
Subsetting here, once, lets every PDF embed the files as they are (no per-document subsetting).
"""

import sys
from pathlib import Path

from fontTools import subset

SOURCE = Path("/usr/share/fonts/truetype/dejavu")
TARGET = Path(__file__).parent / "fonts"
FACES = ("DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic")

# Basic Latin, Latin-1, Latin Extended-A (names such as Łukasz, Şahin), Œ/œ/Ÿ are in it,
# plus the typographic punctuation, narrow no-break space and euro sign used by the templates.
UNICODES = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x100),
    *range(0x100, 0x180),
    *range(0x2010, 0x2015),
    *range(0x2018, 0x201F),
    0x2022,
    0x2026,
    0x202F,
    0x20AC,
]


def build(source: Path = SOURCE, target: Path = TARGET) -> None:
    options = subset.Options()
    options.layout_features = ["kern"]  # kerning only: no ligature surprises when copying text
    options.hinting = False  # PDF viewers do not need TrueType hinting; it is most of the bytes
    options.name_IDs = ["*"]  # keep copyright and licence strings in the name table
    options.notdef_outline = True
    for face in FACES:
        font = subset.load_font(str(source / f"{face}.ttf"), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=UNICODES)
        subsetter.subset(font)
        subset.save_font(font, str(target / f"{face}-latin.ttf"), options)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
