"""How the fake ASP behaves: reject rate and reasons, limits, duplicates, and the faults it can inject.

Plain mutable dataclasses: a test changes a fault between two exchanges (`fake.behaviour.faults.delay_s = 0`).
Everything random draws from one generator seeded with `seed`, so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from lxml import etree

from aplypro_local.fake_asp.options import AnswerOptions, PaymentOptions

# One reason per key of the errors dictionary (asp-exchange.md §6.1), each `(.*)` filled with plausible,
# fictitious text. Reasons carry accents: the rejects CSV is the place where the encoding matters.
REJECT_REASONS: tuple[str, ...] = (
    "Coord. paiement bloquees",
    "La commune de naissance sélectionnée n'existait pas à la date de naissance de l'individu",
    "Le code Insee commune de l'entité individu 35238 est périmé.",
    "Le code saisi 35999 n'existe pas dans le LOCALISATIONGEOGRAPHIQUE",
    "Le code saisi 99999 n'existe pas dans le referentiel refinseepays",
    "Les codes saisis 30006 00001 n existent pas dans le referentiel refdombancaire ou ne sont pas actifs à "
    "cette date",
    "Le code saisi 35000 n'existe pas dans le dictionnaire des referentiels",
    "Le pays correspondant au code BIC CHASUS33 n'autorise pas le mode de réglement SEPA",
    "L'IBAN ne fait pas partie de la zone SEPA.",
    "Le RIB FR7630006000011234567890100 est Invalide",
    "Les caractères autorisés pour l'intitulé SEPA sont limités à l'alphabet latin, aux chiffres, au caractère "
    "espace et aux caractères suivants : / - ? : ( ) . , ' +",
    "La coordonnée de paiement est invalide",
    "Les codes saisis 35000 35238 de la table REFHEXAPOSTE correspondent à un lieu-dit",
    "begin 4, end 6, length 5",
)

Validator = Callable[[bytes], list[str]]


def well_formed(content: bytes) -> list[str]:
    """The default upload check: the XML parses. The XSD check (§4.8) plugs in here as `Behaviour.validate`."""
    try:
        etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed: {exc}"]
    return []


@dataclass
class Faults:
    # Cut the connection once an upload into the drop folder reached this many bytes, for the next
    # `disconnects` uploads: the client sees the connection drop mid-write.
    disconnect_after_bytes: int | None = None
    disconnects: int = 1
    # The next `fail_renames` renames are refused (the client must not lose or re-send the file).
    fail_renames: int = 0
    # Every SFTP operation waits this long first: a slow server (the client's timeout should fire).
    delay_s: float = 0.0
    # Each return file written comes back once, same name and bytes, after the client removed it.
    deliver_twice: bool = False
    # Each return file is first delivered cut mid-line; once the client removed it, the whole file comes.
    truncate_returns: bool = False
    # The next `fail_removes` removes in the read folder are refused: the file stays and is read again.
    fail_removes: int = 0
    refuse_login: bool = False  # every login refused (no authentication method offered) while set


@dataclass
class Behaviour:
    reject_rate: float = 0.0  # share of records rejected at random, each with a reason drawn from `reasons`
    seed: int = 0
    reasons: tuple[str, ...] = REJECT_REASONS
    reject_records: dict[int, str] = field(default_factory=dict)  # idEnregistrement → reason, always
    # IBAN (spaces or not) → reason: every record paying this account is refused (a predicate of §10), whatever
    # its idEnregistrement; a retry on new bank details goes through. Keyed on what a test chooses up front.
    reject_ibans: dict[str, str] = field(default_factory=dict)
    # Any other predicate of §10 (NUMADM, name, amount…): the record (pickup.Record) → a reason, or None.
    reject_if: Callable[[Any], str | None] | None = None
    # A record whose idEnregistrement came in an earlier file (answer unconfirmed at the ASP, §11.1).
    duplicate_record: Literal["reject", "integrate"] = "reject"
    # The limits of §3.4: a file over the record cap is refused whole (no answer); the others are recorded.
    max_records_per_file: int = 7000
    max_files_per_day: int = 10
    max_records_per_week: int = 100_000
    auto_pickup: bool = True  # take each file as soon as it arrives under its final name
    remove_taken: bool = True  # the pick-up removes taken files from the drop folder, as the ASP does
    validate: Validator = well_formed
    # A file failing `validate` gets no answer (§10 default: the ASP's answer is unconfirmed, §11 point 8), or,
    # when set, every record it holds is rejected with this reason.
    invalid_file_reason: str | None = None
    password: str | None = None  # also accept password authentication with this password (§3.1)
    faults: Faults = field(default_factory=Faults)
    # Payment returns (emit_payments): share of integrated records not paid, each with a §6.2 code.
    unpaid_rate: float = 0.0
    unpaid_codes: tuple[tuple[str, str], ...] = (("RJT", "Compte clos"), ("IDR", "Anomalie detectee"))
    payments_code: str = "APLYPROMOCK"  # the <CODE> of renvoi_paiement_<CODE>_<YYYYMMDD>.xml
    # A modification record (§8.1) raising the total: MTNET pays the difference ("difference", the default),
    # or the new total (§11.6 leaves it unconfirmed). A lowered total gets a recovery order (emit_recovery_orders).
    mtnet_after_rectification: Literal["difference", "total"] = "difference"
    recovery_sign: Literal["-", "+"] = "-"  # the sign of MTDEMANDEOR (unconfirmed, §5.4): the §5.4 sample's
    invalid_recovery_rate: float = 0.0  # share of recovery orders INVALIDE (CODEMOTIFOR C1), seeded
    # Address-correction files (§4.9, §5.5): share of the answered records whose integration line names
    # another dossier id than the one sent (the gateway reports the mismatch), seeded; `reject_rate` applies too.
    correction_mismatch_rate: float = 0.0
    # How answers and payment returns are delivered (§10 options: split, omitted, doubled lines, UTF-8, CRLF…).
    answers: AnswerOptions = field(default_factory=AnswerOptions)
    payments: PaymentOptions = field(default_factory=PaymentOptions)
    # The same, chosen up front: these idEnregistrement of a correction file get another dossier id. A correction
    # record listed in `reject_records` is rejected with its reason (§10 "Correction files: a mismatching id,
    # reject").
    correction_mismatch_records: set[int] = field(default_factory=set)
