"""What each return line does to the request it names (asp-exchange.md §5.5, §9.2 G4; lifecycles.md §2): pure
decisions on the requests as the ingest loaded (and locked) them, updated as the file's lines are decided.

Each line ends `applied` (a `Change`: the request moves forward, never back), `duplicate` (the target state was
already reached through the same answer: nothing happens), or `unmatched` with a `why` kept for operators
(unknown key, conflict, invalid line). A state is only ever left forward: an older or repeated line is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal
from uuid import UUID

from aplypro_asp_gateway.domain.return_lines import AspIds, LineState, ReturnLine

Status = Literal["applied", "duplicate", "unmatched"]
ANSWERED = frozenset({"integrated", "paid", "unpaid"})  # states reached through an integration line
_ADMIN_NUMBER_LENGTHS = range(18, 22)  # a DA number (18-19) or a PFMP number (20-21), §4.2


@dataclass
class RequestView:
    """A request as held when its line is decided; the matcher moves it along as it decides."""

    payment_request_id: UUID
    pfmp_id: UUID
    student_id: UUID
    schooling_id: UUID
    state: str
    pfmp_number: str | None = None  # PRESTADOSS/NUMADM sent (file_records), the numadm check
    individual: str | None = None
    dossier: str | None = None
    prestation: str | None = None
    reasons: tuple[str, ...] = ()
    paid_cents: int | None = None
    paid_on: date | None = None
    recovery: bool = False
    merged_from: UUID | None = None  # the student the request was made for, before a merge moved it

    def answer(self) -> tuple[str, tuple[str, ...], int | None, date | None, bool]:
        return self.state, self.reasons, self.paid_cents, self.paid_on, self.recovery


@dataclass(frozen=True)
class Change:
    payment_request_id: UUID
    expected: str  # the state it leaves: the UPDATE applies only from there (never moved twice)
    state: str
    line_no: int
    reasons: tuple[str, ...] = ()
    ids: AspIds | None = None
    paid_cents: int | None = None
    paid_on: date | None = None
    recovery: bool = False


@dataclass(frozen=True)
class Outcome:
    line: ReturnLine
    status: Status
    why: str | None = None
    change: Change | None = None


def numadm_differs(numadm: str | None, pfmp_number: str | None) -> bool:
    """The second check: an administrative number in the line must be the record's PFMP number or its DA number
    (the PFMP number without its rank). Placeholders of the mocks (`DOSS`) and empty cells are not compared."""
    if not numadm or pfmp_number is None or len(numadm) not in _ADMIN_NUMBER_LENGTHS:
        return False
    return numadm not in (pfmp_number, pfmp_number[:-2])


@dataclass
class HeldIds:
    """The ASP ids already stored, both ways: an id belongs to one object, an object keeps its id (§1, §5.1)."""

    by_value: dict[str, dict[str, UUID]] = field(default_factory=lambda: {"prestation": {}, "individual": {},
                                                                           "dossier": {}})
    by_owner: dict[str, dict[UUID, str]] = field(default_factory=lambda: {"prestation": {}, "individual": {},
                                                                           "dossier": {}})
    integrated: dict[UUID, UUID] = field(default_factory=dict)  # pfmp → its integrated request
    # A merge survivor holds its own individual id and the merged students' (imports.md §5.8): any of them
    # names the same person, never an `individual_id_changed`.
    merged_individuals: dict[UUID, frozenset[str]] = field(default_factory=dict)

    def take(self, request: RequestView, ids: AspIds | None = None) -> None:
        ids = ids or AspIds(individual=request.individual, dossier=request.dossier, prestation=request.prestation)
        for name, value, owner in _owners(request, ids):
            if value is not None and name == "individual" and request.merged_from is not None and (
                    self.by_owner[name].get(owner, value) != value):
                # the merged student's individual: the survivor keeps its own, both name the one person
                self.by_value[name][value] = owner
                self.merged_individuals[owner] = self.merged_individuals.get(owner, frozenset()) | {value}
            elif value is not None:
                self.by_value[name][value] = owner
                self.by_owner[name][owner] = value
        if request.state == "integrated":
            self.integrated[request.pfmp_id] = request.payment_request_id

    def clash(self, request: RequestView, ids: AspIds) -> str | None:
        for name, value, owner in _owners(request, ids):
            if value is None:
                continue
            if self.by_value[name].get(value, owner) != owner:
                return f"{name}_id_held_by_another"
            # A request a merge moved may bring the individual the ASP created for the merged student while the
            # merge was in flight: it lands on the survivor (taken, or the pair recorded: merges_repo.settle_in_flight)
            if self.by_owner[name].get(owner, value) != value and not (
                    name == "individual" and (value in self.merged_individuals.get(owner, ())
                                              or _in_flight_at_merge(request, value))):
                return f"{name}_id_changed"
        if self.integrated.get(request.pfmp_id, request.payment_request_id) != request.payment_request_id:
            return "pfmp_already_integrated"
        return None


def _in_flight_at_merge(request: RequestView, individual: str) -> bool:
    """A request a merge moved that was sent as a creation (no individual yet), or whose own answer already
    named this individual: any other individual on it is a real change."""
    return request.merged_from is not None and request.individual in (None, individual)


def _owners(request: RequestView, ids: AspIds) -> tuple[tuple[str, str | None, UUID], ...]:
    return (("prestation", ids.prestation, request.pfmp_id), ("individual", ids.individual, request.student_id),
            ("dossier", ids.dossier, request.schooling_id))


def decide_answers(lines: Sequence[ReturnLine], by_record: dict[int, RequestView], held: HeldIds,
                   upload_known: bool) -> list[Outcome]:
    """Integration and reject lines (§5.1, §5.2): `record_id` within the answered upload, `numadm` checked."""
    reasons: dict[int, list[str]] = {}  # every reason of a record: the ASP may reject it once per entity
    for line in lines:
        if line.state is LineState.REJECTED and line.record_id is not None and line.reason:
            keys = reasons.setdefault(line.record_id, [])
            if line.reason.key not in keys:
                keys.append(line.reason.key)
    first_reject: dict[int, Outcome] = {}
    outcomes: list[Outcome] = []
    for line in lines:
        if line.state is LineState.INVALID:
            outcomes.append(Outcome(line, "unmatched", line.reason_code or "invalid_line"))
            continue
        if line.state in (LineState.ADDRESS_CORRECTED, LineState.ADDRESS_REJECTED):
            outcomes.append(Outcome(line, "unmatched", "address_correction_not_handled"))
            continue
        request = by_record.get(line.record_id) if line.record_id is not None else None
        if request is None:
            outcomes.append(Outcome(line, "unmatched", "record_not_in_file" if upload_known else "upload_unknown"))
        elif numadm_differs(line.numadm, request.pfmp_number):
            outcomes.append(Outcome(line, "unmatched", "numadm_mismatch"))
        elif line.state is LineState.INTEGRATED:
            outcomes.append(_integrate(line, request, held))
        elif line.record_id in first_reject:  # a further reason of a record already decided with all of them
            first = first_reject[line.record_id]
            outcomes.append(Outcome(line, first.status, first.why))
        else:
            outcome = _reject(line, request, tuple(reasons.get(request_key(line), ())))
            first_reject[request_key(line)] = outcome
            outcomes.append(outcome)
    return outcomes


def request_key(line: ReturnLine) -> int:
    assert line.record_id is not None  # matched lines have one
    return line.record_id


def _integrate(line: ReturnLine, request: RequestView, held: HeldIds) -> Outcome:
    ids = line.asp_ids
    assert ids is not None  # the reader makes a line without its three ids `invalid`
    if request.state in ANSWERED:
        same = (request.individual, request.dossier, request.prestation) == (ids.individual, ids.dossier,
                                                                             ids.prestation)
        return Outcome(line, "duplicate") if same else Outcome(line, "unmatched", "asp_ids_changed")
    if request.state != "sent":
        return Outcome(line, "unmatched", "integrated_and_rejected" if request.state == "rejected" else "not_sent")
    clash = held.clash(request, ids)
    if clash:
        return Outcome(line, "unmatched", clash)
    change = Change(request.payment_request_id, "sent", "integrated", line.line_no, ids=ids)
    request.state, request.individual, request.dossier, request.prestation = (
        "integrated", ids.individual, ids.dossier, ids.prestation)
    held.take(request, ids)
    return Outcome(line, "applied", change=change)


def _reject(line: ReturnLine, request: RequestView, reasons: tuple[str, ...]) -> Outcome:
    if request.state == "rejected":
        known = set(reasons) <= set(request.reasons)
        return Outcome(line, "duplicate") if known else Outcome(line, "unmatched", "rejected_again")
    if request.state != "sent":
        return Outcome(line, "unmatched", "integrated_and_rejected" if request.state in ANSWERED else "not_sent")
    request.state, request.reasons = "rejected", reasons
    return Outcome(line, "applied", change=Change(request.payment_request_id, "sent", "rejected", line.line_no,
                                                   reasons=reasons))


def decide_payments(lines: Sequence[ReturnLine], by_prestation: dict[str, list[RequestView]]) -> list[Outcome]:
    """Payment and recovery-order lines (§5.3, §5.4): the prestation id → its PFMP's single `integrated` request.

    A line identical to an answer already applied (same prestation, state, amount, date, reasons) is a
    duplicate even when the PFMP has another `integrated` request meanwhile (a rectification, §9.2): a payment
    is applied once, and never to a request it was not made for.
    """
    outcomes: list[Outcome] = []
    for line in lines:
        prestation = line.asp_ids.prestation if line.asp_ids else None
        if line.state is LineState.INVALID or prestation is None:
            outcomes.append(Outcome(line, "unmatched", line.reason_code or "invalid_line"))
            continue
        requests = by_prestation.get(prestation, [])
        target = _target(line)
        if not requests:
            outcomes.append(Outcome(line, "unmatched", "unknown_prestation"))
        elif any(r.answer() == target for r in requests):
            outcomes.append(Outcome(line, "duplicate"))
        else:
            outcomes.append(_pay(line, requests, target))
    return outcomes


def _target(line: ReturnLine) -> tuple[str, tuple[str, ...], int | None, date | None, bool]:
    if line.state is LineState.PAID:
        return "paid", (), line.net_cents, line.paid_on, False
    if line.state is LineState.RECOVERY:  # an order issued: paid, flagged; |MTDEMANDEOR| and its date
        return "paid", (), line.claimed_cents, line.order_posted_on, True
    return "unpaid", (line.reason_code,) if line.reason_code else (), None, None, False


def _pay(line: ReturnLine, requests: list[RequestView],
         target: tuple[str, tuple[str, ...], int | None, date | None, bool]) -> Outcome:
    integrated = [r for r in requests if r.state == "integrated"]
    if not integrated:
        # every request of the prestation already answered otherwise: a second payment is never applied
        return Outcome(line, "unmatched", "no_integrated_request")
    request = integrated[0]  # one at most per PFMP (a partial unique index)
    if numadm_differs(line.numadm, request.pfmp_number):
        return Outcome(line, "unmatched", "numadm_mismatch")
    state, reasons, cents, on, recovery = target
    request.state, request.reasons, request.paid_cents, request.paid_on, request.recovery = target
    return Outcome(line, "applied", change=Change(request.payment_request_id, "integrated", state, line.line_no,
                                                   reasons=reasons, paid_cents=cents, paid_on=on, recovery=recovery))
