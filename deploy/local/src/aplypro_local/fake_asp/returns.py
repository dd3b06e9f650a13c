"""The return files the fake writes: integrations and rejects CSV (asp-exchange.md §5.1, §5.2).

Windows-1252 (the ASP's "ANSI": for the accented letters of the reasons it is byte for byte ISO-8859-1),
`;` separator, LF, exact headers, no quoting; an empty last field leaves a trailing `;`. Payment and
recovery-order XML returns (§5.3, §5.4) come later, next to these (see FakeAsp.emit_payments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ENCODING = "cp1252"
INTEGRATIONS_HEADER = ("Numero enregistrement;idIndDoss;idIndTiers;idDoss;numAdmDoss;idPretaDoss;"
                       "numAdmPrestaDoss;idIndPrestaDoss")
REJECTS_HEADER = "Numéro d'enregistrement;Type d'entité;Numadm;Motif rejet;idIndDoublon"


@dataclass(frozen=True)
class Integrated:
    record_id: int
    individual_id: str
    dossier_id: str
    dossier_number: str
    prestation_id: str
    prestation_number: str
    amount_euros: int | None  # MTTOTALFINANCEMENT, kept for the payment returns to come


@dataclass(frozen=True)
class Rejected:
    record_id: int
    reason: str
    numadm: str = ""


def base_name(upload_name: str) -> str:
    return upload_name.removesuffix(".xml")


def integrations_name(upload_name: str) -> str:
    return f"identifiants_generes_{base_name(upload_name)}.csv"


def rejects_name(upload_name: str) -> str:
    return f"rejets_integ_idp_{base_name(upload_name)}.csv"


def _csv(header: str, rows: Sequence[Sequence[str]]) -> bytes:
    return "".join(f"{line}\n" for line in [header, *(";".join(r) for r in rows)]).encode(ENCODING)


def integrations_csv(lines: Sequence[Integrated]) -> bytes:
    # idIndTiers unknown (§11.5): empty; idIndPrestaDoss: the individual, as in the ASP's mocks.
    return _csv(INTEGRATIONS_HEADER, [
        (str(i.record_id), i.individual_id, "", i.dossier_id, i.dossier_number, i.prestation_id,
         i.prestation_number, i.individual_id) for i in lines])


def rejects_csv(lines: Sequence[Rejected]) -> bytes:
    return _csv(REJECTS_HEADER, [(str(r.record_id), "", r.numadm, " ".join(r.reason.split()), "") for r in lines])


def truncated(content: bytes) -> bytes:
    """The file cut in the middle of a line, as a transfer interrupted on the ASP's side leaves it."""
    cut = len(content) // 2
    if content[cut - 1: cut] == b"\n":
        cut += 1
    return content[:cut]
