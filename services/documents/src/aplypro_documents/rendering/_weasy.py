"""The one place weasyprint is imported, so its import-time warning is handled once.

weasyprint warns (DeprecationWarning) at import when libharfbuzz-subset is missing; the renderer
checks for the library itself and logs a loud warning instead of failing under `-W error`.
"""

import warnings
from importlib.resources import files

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from weasyprint import CSS, DEFAULT_OPTIONS, HTML, VERSION, Document
    from weasyprint.pdf import VARIANTS, generate_pdf
    from weasyprint.pdf.metadata import DocumentMetadata
    from weasyprint.text import ffi
    from weasyprint.text.fonts import FontConfiguration

PRODUCER = f"WeasyPrint {VERSION}"


def srgb_profile() -> bytes:
    """weasyprint's sRGB2014 ICC profile, read and closed."""
    return (files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()


def harfbuzz_subset_available() -> bool:
    """Without libharfbuzz-subset0 weasyprint subsets fonts with fontTools, several times slower."""
    return ffi.harfbuzz_subset is not None


__all__ = [
    "CSS",
    "DEFAULT_OPTIONS",
    "HTML",
    "PRODUCER",
    "VARIANTS",
    "Document",
    "DocumentMetadata",
    "FontConfiguration",
    "generate_pdf",
    "harfbuzz_subset_available",
    "srgb_profile",
]
