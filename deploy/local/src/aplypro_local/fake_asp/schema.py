"""The project's XSD (asp-exchange.md §4.8) as the fake ASP's upload check (§10 "Validate with the project's XSD").

The fake reads the schema file the gateway ships (`aplypro_asp_gateway/schemas/paiement.xsd`) and compiles it
itself: it stands for the ASP, so it shares the contract, not the gateway's code. A violation is reported by its
libxml2 error type only (the message quotes the refused value: a name, a birth date, an IBAN).
"""

from __future__ import annotations

import functools
from importlib import resources

from lxml import etree


@functools.cache
def _schema() -> etree.XMLSchema:
    source = resources.files("aplypro_asp_gateway").joinpath("schemas", "paiement.xsd")
    return etree.XMLSchema(etree.fromstring(source.read_bytes()))


def project_xsd(content: bytes) -> list[str]:
    """[] when the upload is valid; else the error type of each violation (a `Behaviour.validate`)."""
    try:
        # huge_tree: a 7,000-record file is tens of megabytes, above libxml2's default limits.
        root = etree.fromstring(content, etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return ["XML_SYNTAX"]
    schema = _schema()
    if schema.validate(root):
        return []
    return [error.type_name for error in schema.error_log]
