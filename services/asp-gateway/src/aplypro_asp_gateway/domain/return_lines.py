"""What one line of an ASP return file says (asp-exchange.md §5), independent of its format: the typed result
the readers produce and a matcher consumes.

Match keys (§5.5): a CSV line names our request by `record_id` (our `idEnregistrement`) within the upload its
file answers (`ReturnFile.upload_name`); a payment or recovery line names a PFMP by its ASP prestation id
(`asp_ids.prestation`), the PFMP then gives its single `integrated` request. `numadm` is kept as a second check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from aplypro_asp_gateway.domain.asp_errors import AspReason


class ReturnKind(StrEnum):
    INTEGRATIONS = "integrations"
    REJECTS = "rejects"
    CORRECTION_INTEGRATIONS = "correction_integrations"
    CORRECTION_REJECTS = "correction_rejects"
    PAYMENTS = "payments"
    RECOVERY_ORDERS = "recovery_orders"


CSV_KINDS = frozenset({ReturnKind.INTEGRATIONS, ReturnKind.REJECTS, ReturnKind.CORRECTION_INTEGRATIONS,
                       ReturnKind.CORRECTION_REJECTS})


class LineState(StrEnum):
    INTEGRATED = "integrated"  # sent → integrated, ASP ids to store
    REJECTED = "rejected"  # sent → rejected, reason from §6.1
    PAID = "paid"  # PAYE: integrated → paid with the net amount
    UNPAID = "unpaid"  # payment or recovery INVALIDE: integrated → unpaid
    RECOVERY = "recovery"  # recovery order EMIS: integrated → paid, flagged as a recovery
    ADDRESS_CORRECTED = "address_corrected"  # correction integration: compare ids, no state change
    ADDRESS_REJECTED = "address_rejected"  # correction reject: report, no state change
    INVALID = "invalid"  # the line itself is faulty (§9.2 G4): reported, never applied


@dataclass(frozen=True)
class AspIds:
    """The ASP's ids (digit strings, emitted verbatim later in `modification` records, §1)."""

    individual: str | None = None  # idIndDoss → INDIVIDU/@idIndividu
    dossier: str | None = None  # idDoss → DOSSIER/@idDoss
    prestation: str | None = None  # idPretaDoss / IDPRESTADOSS → PRESTADOSS/@idPrestaDoss
    prestation_numadm: str | None = None  # numAdmPrestaDoss, shown to schools
    third_party_individual: str | None = None  # idIndTiers (meaning unconfirmed, §11)
    prestation_individual: str | None = None  # idIndPrestaDoss (meaning unconfirmed)
    duplicate_individual: str | None = None  # idIndDoublon of a reject line


@dataclass(frozen=True)
class ReturnLine:
    kind: ReturnKind
    line_no: int  # CSV: physical line (header = 1); XML: rank of the record (1-based)
    state: LineState
    record_id: int | None = None  # our idEnregistrement (CSV kinds only)
    numadm: str | None = None  # rejects: Numadm; integrations: numAdmDoss; XML: PRESTADOSS/NUMADM if any
    reason: AspReason | None = None
    asp_ids: AspIds | None = None
    prestation_ids: tuple[str, ...] = ()  # every IDPRESTADOSS of an XML record, in file order
    net_cents: int | None = None  # MTNET
    claimed_cents: int | None = None  # |MTDEMANDEOR| (its sign is unconfirmed, §5.4)
    paid_on: date | None = None  # DATEPAIEMENT
    order_posted_on: date | None = None  # DATEOREFFECTIF
    asp_code: str | None = None  # CODEMOTIFINVAL / CODEMOTIFOR as sent
    entity_type: str | None = None  # Type d'entité of a reject
    # The ASP's own words may quote an IBAN or a name, and the account paid is personal data: kept for the
    # stored row, out of repr so that a log or a traceback never shows them.
    asp_text: str | None = field(default=None, repr=False)
    iban: str | None = field(default=None, repr=False)

    @property
    def reason_code(self) -> str | None:
        return self.reason.key if self.reason else None


@dataclass(frozen=True)
class ReturnFile:
    name: str  # base name as received
    kind: ReturnKind
    sha256: str
    lines: tuple[ReturnLine, ...]
    upload_name: str | None = None  # CSV kinds: the file of ours this answers (original base name + .xml)
    encoding: str | None = None  # how the bytes were decoded
