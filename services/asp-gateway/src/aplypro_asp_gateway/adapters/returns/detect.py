"""Which return a file is: from its name first (asp-exchange.md §3.2, case-sensitive), else from its content
(the CSV header line or the XML root element).

The poller SHOULD trust names only (§9.2 G7: unknown names are quarantined, never parsed); the content
fallback serves the offline `read-return` command, where a file may have been renamed by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aplypro_asp_gateway.adapters.returns.csv_text import INTEGRATIONS_HEADER, REJECTS_HEADER, header_columns
from aplypro_asp_gateway.adapters.returns.errors import UnknownReturnKind
from aplypro_asp_gateway.domain.return_lines import ReturnKind

_BY_NAME: tuple[tuple[re.Pattern[str], ReturnKind], ...] = tuple((re.compile(p), k) for p, k in (
    (r"^identifiants_generes_(nps_ficimport_idp_.+)\.csv$", ReturnKind.INTEGRATIONS),
    (r"^rejets_integ_idp_(nps_ficimport_idp_.+)\.csv$", ReturnKind.REJECTS),
    (r"^identifiants_generes_(nps_ficimport_correction_adresse_idp_.+)\.csv$",
     ReturnKind.CORRECTION_INTEGRATIONS),
    (r"^rejets_integ_idp_(nps_ficimport_correction_adresse_idp_.+)\.csv$", ReturnKind.CORRECTION_REJECTS),
    (r"^renvoi_paiement_.+\.xml$", ReturnKind.PAYMENTS),
    (r"^renvoi_ordrereversement_.+\.xml$", ReturnKind.RECOVERY_ORDERS),
))
# The first element after the declaration, comments or a BOM, with or without a prefix.
_XML_ROOT = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*)*<(?:[\w.-]+:)?([\w.-]+)[\s/>]",
                       re.DOTALL)
_ROOTS = {b"LISTEPAIEMENT": ReturnKind.PAYMENTS, b"LISTEOR": ReturnKind.RECOVERY_ORDERS}
HEAD_BYTES = 4096


@dataclass(frozen=True)
class Detected:
    kind: ReturnKind
    upload_name: str | None  # CSV kinds named after our upload: that upload's name
    by: str  # "name" or "content"


def kind_from_name(name: str) -> Detected | None:
    for pattern, kind in _BY_NAME:
        found = pattern.match(name)
        if found:
            upload = found.group(1) + ".xml" if found.groups() else None
            return Detected(kind, upload, "name")
    return None


def kind_from_content(head: bytes) -> Detected | None:
    """Look at the first bytes only: an XML root, or the exact CSV header of §5.1/§5.2."""
    root = _XML_ROOT.match(head[:HEAD_BYTES])
    if root:
        kind = _ROOTS.get(root.group(1))
        return Detected(kind, None, "content") if kind else None
    columns = header_columns(head[:HEAD_BYTES])
    if columns == INTEGRATIONS_HEADER:
        return Detected(ReturnKind.INTEGRATIONS, None, "content")
    if columns == REJECTS_HEADER:
        return Detected(ReturnKind.REJECTS, None, "content")
    return None


def detect_kind(name: str, head: bytes, by_content: bool = True) -> Detected:
    detected = kind_from_name(name) or (kind_from_content(head) if by_content else None)
    if detected is None:
        raise UnknownReturnKind("neither the file name nor its first line names an ASP return")
    return detected
