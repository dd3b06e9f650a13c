"""The §10 delivery options of the fake ASP: how its answers and payment returns deviate from the plain shape.

Each option reproduces a way a real return may arrive (asp-exchange.md §10), so a gateway test can show the
answer is read, reported, or refused, and never applied twice. Pure shaping: the server (server.py) writes.

Answers (integrations/rejects CSV, §5.1, §5.2): split over two pick-ups, records left unanswered, every line
twice, a line for a record never sent, UTF-8 instead of Windows-1252, CRLF, an unrelated file dropped beside.
Payment returns (§5.3): an unknown ETATPAIEMENT, a prestation never issued, two IDPRESTADOSS in a record, a
record twice, no namespace; and the day's name appended to or re-used (at most one file a day, as the name
implies) instead of a new <CODE> per emission. Recovery-order returns (§5.4) get the same faults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

UNKNOWN_RECORD_ID = 999_999_999  # an idEnregistrement no gateway of ours ever sent
UNKNOWN_PRESTATION_ID = "1111111"  # a 7-digit prestation id the fake never issues (its counter starts at 9876001)
UNRELATED_FILE = "lisezmoi_ASP.txt"


@dataclass
class AnswerOptions:
    # Each upload's answer in two pick-ups: the first half of its lines now, the rest at the next pick-up
    # (`process_uploads()`, automatic at the next upload): under the same names, whole again when the first
    # delivery is still in the read folder, the rest only when the client took it.
    split: bool = False
    omit_records: set[int] = field(default_factory=set)  # idEnregistrement answered by no line at all
    duplicate_lines: bool = False  # every line of both CSVs written twice
    unknown_record: bool = False  # one more integration line naming UNKNOWN_RECORD_ID
    encoding: Literal["cp1252", "utf-8"] = "cp1252"  # the ASP warned its CSVs are "ANSI" (§3.3)
    line_ending: Literal["\n", "\r\n"] = "\n"
    unrelated_file: bool = False  # UNRELATED_FILE dropped in the read folder with each answer


@dataclass
class PaymentOptions:
    # The first PAIEMENT (ORDREREVERSEMENT) of each emitted payments (recovery-order) file is changed so (the
    # others stay plain): one fault per file, on a line the test can name (the lowest idEnregistrement).
    unknown_state: bool = False  # ETATPAIEMENT "EN_ATTENTE", not in §5.3 nor §5.4
    two_prestations: bool = False  # the record names its prestation and another one
    repeat_record: bool = False  # the PAIEMENT written twice
    unknown_prestation: bool = False  # one more PAYE line for UNKNOWN_PRESTATION_ID
    namespace: bool = True  # false: no xmlns on the root (§3.3: both are seen)
    # "new_code": each emission a file of its own (renvoi_paiement_<CODE>N_…); "same_day": one name a day (§10):
    # a second emission appends while the day's file is still in the read folder, else re-uses the name.
    naming: Literal["new_code", "same_day"] = "new_code"
