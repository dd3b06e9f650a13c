"""A payment request as the calculator sees it (lifecycles.md §2 and §4): creation, evaluation, ASP returns.

The calculator decides ten blocking reasons, the schooling-dates and décision d'attribution gates included
(domain.decisions, from the students', pfmp's and documents' events); the gateway decides the others (identity, address, RIB) once the
request is handed over as `ready`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from aplypro_calculator.domain.decisions import DecisionReason
from aplypro_calculator.domain.rectification import InvalidDayCount, validate_day_count

State = Literal["pending", "incomplete", "ready", "sent", "integrated", "rejected", "paid", "unpaid"]
Reason = Literal["pfmp", "pfmp_amount", "overlaps", "pfmp_outside_schooling_dates", "missing_attributive_decision",
                 "needs_abrogated_attributive_decision", "attributive_decision_cancelled", "excluded_schooling",
                 "hidden_schooling", "negative_rectification", "mef_without_bareme"]

COMMITTED: frozenset[str] = frozenset({"ready", "sent", "integrated", "paid"})  # the amount is frozen
ONGOING: frozenset[str] = frozenset({"ready", "sent", "integrated"})  # the PFMP cannot be edited
ACTIVE: frozenset[str] = frozenset({"pending", "ready", "sent", "integrated"})  # no new request
OPEN: frozenset[str] = frozenset({"pending", "incomplete"})  # not handed over yet: the calculator re-evaluates
PARKING: frozenset[str] = frozenset({"negative_rectification"})  # waits in `pending`, released by a switch

# Returns the calculator follows, and the states each may come from. `integrated`, `paid` and `unpaid`
# also accept the step before the usual one, since `sent` may arrive as PaymentRequestSent instead.
ASP_TRANSITIONS: dict[str, frozenset[str]] = {
    "sent": frozenset({"ready"}),
    "integrated": frozenset({"ready", "sent"}),
    "rejected": frozenset({"ready", "sent"}),
    "paid": frozenset({"sent", "integrated"}),
    "unpaid": frozenset({"sent", "integrated"}),
}


@dataclass(frozen=True)
class RequestFacts:
    """What the calculator knows when it evaluates one request of a PFMP."""

    pfmp_status: str
    deleted: bool
    day_count: int | None
    start_date: date
    end_date: date
    amount_cents: int | None  # the PFMP's current pool amount; None when it holds nothing
    priced: bool  # the schooling's MEF has a barème for its year
    excluded: bool  # the schooling is excluded (calculation.md §4)
    pool_over_cap: bool  # Σ committed > cap in the PFMP's pool
    paid_base_cents: int | None  # total of the PFMP's latest paid request; None if never paid
    negative_enabled: bool  # calculation.md §5.4 switch
    overlaps: bool = False  # another live validated/rectified PFMP of the student shares a day (domain.overlaps)
    decision_gates: tuple[DecisionReason, ...] = ()  # the failing DA gates (domain.decisions.decision_reasons)
    hidden: bool = False  # the students service hides the schooling (removed, or retracted by its producer)


@dataclass(frozen=True)
class Evaluation:
    state: State
    reasons: tuple[Reason, ...]

    @property
    def parked(self) -> bool:
        return self.state == "pending" and bool(self.reasons)


def blocking_reasons(f: RequestFacts) -> tuple[Reason, ...]:
    """Every failing calculator check, in the order of lifecycles.md §4 (never only the first)."""
    rectified = f.pfmp_status == "rectified"
    reasons: list[Reason] = []
    if f.deleted or f.pool_over_cap or not _day_count_valid(f, rectified):
        reasons.append("pfmp")
    if f.amount_cents is None or f.amount_cents < 0 or (f.amount_cents == 0 and not rectified):
        reasons.append("pfmp_amount")
    if f.overlaps:
        reasons.append("overlaps")
    reasons += f.decision_gates
    if f.excluded:
        reasons.append("excluded_schooling")
    if f.hidden:
        reasons.append("hidden_schooling")
    if (rectified and not f.negative_enabled and f.paid_base_cents is not None
            and f.amount_cents is not None and f.amount_cents < f.paid_base_cents):
        reasons.append("negative_rectification")
    if not f.priced:
        reasons.append("mef_without_bareme")
    return tuple(reasons)


def _day_count_valid(f: RequestFacts, rectified: bool) -> bool:
    try:
        validate_day_count(f.day_count, f.start_date, f.end_date, rectification=rectified)
    except InvalidDayCount:
        return False
    return True


def evaluate(f: RequestFacts) -> Evaluation:
    """All pass → ready; only parking reasons → pending (parked); otherwise incomplete with all of them."""
    reasons = blocking_reasons(f)
    if not reasons:
        return Evaluation("ready", ())
    if set(reasons) <= PARKING:
        return Evaluation("pending", reasons)
    return Evaluation("incomplete", reasons)


def may_create(pfmp_status: str, deleted: bool, amount_cents: int | None, has_request: bool) -> bool:
    """A validated PFMP gets its first request once its amount is > 0, even later (D10).

    Rectified PFMPs get theirs from the rectification itself (even at 0); a terminal request is retried
    only on request, never here.
    """
    return pfmp_status == "validated" and not deleted and not has_request and bool(amount_cents)


Cooldown = Literal["next_midnight", "none"]
PARIS = ZoneInfo("Europe/Paris")


def due_at(validated_at: datetime | None, cooldown: Cooldown) -> datetime | None:
    """When the request of a validated PFMP becomes due (lifecycles.md §5); None: at once.

    `next_midnight`: the next 00:00 Europe/Paris after the validation, so that validations of one day
    never depend on the order in which they arrived, and staff can fix same-day mistakes. A PFMP whose
    validation time is unknown (validated before the cool-down existed) is due at once.
    """
    if cooldown == "none" or validated_at is None:
        return None
    day = validated_at.astimezone(PARIS).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=PARIS)  # midnight always exists in Paris (DST moves 2-3h)


def awaiting_evaluation(state: str | None, reasons: tuple[str, ...] | list[str] | None, due: datetime | None,
                        now: datetime) -> bool:
    """Created, never evaluated, not due yet: not committed, its amount follows the pool, no event.

    A `pending` request without reasons has never been evaluated: an evaluation always leaves it ready,
    incomplete, or pending with a parking reason.
    """
    return state == "pending" and not reasons and due is not None and due > now


def paid_mismatch(paid_amount: Decimal | None, amount_cents: int, base_cents: int | None) -> bool:
    """MTNET differs from what we sent (calculation.md §3.1): flagged for review, never truncated.

    A missing MTNET is a mismatch, never 0 (D6). For a rectification, whether MTNET is the total or the
    difference is an open point (§8): both are accepted.
    """
    if paid_amount is None:
        return True
    cents = paid_amount * 100
    if cents != cents.to_integral_value():
        return True
    expected = {amount_cents} if base_cents is None else {amount_cents, abs(amount_cents - base_cents)}
    return int(cents) not in expected


# Retries (lifecycles.md §2): a terminal request is never reopened; a new request is created and evaluated
# at once. `rejected` and `unpaid` are the failed terminal states.
FAILED: frozenset[str] = frozenset({"rejected", "unpaid"})
# Integration-reject keys the gateway recognises (asp-exchange.md §6.1, every key but `fallback_message`):
# each is cured by a change of the student's bank details or address, so the student's next RIB for the
# PFMP's establishment, or an address change, retries the request without anyone asking (lifecycles.md §2).
RECOGNISED_REJECTIONS: frozenset[str] = frozenset({
    "payment_coordinates_blocked", "birth_commune_not_found", "outdated_insee_code",
    "localisationgeographique_not_found", "refinseepays_not_found", "refdombancaire_not_found",
    "inconsistent_address", "bic_sepa_not_allowed", "iban_sepa_not_allowed", "invalid_rib", "invalid_characters",
    "invalid_payment_coordinates", "hamlet", "bic_length",
})

RetryRefusal = Literal["unknown_pfmp", "pfmp_deleted", "pfmp_not_validated", "no_request", "not_latest_request",
                       "latest_not_failed", "nothing_to_pay", "not_a_recognised_rejection"]


@dataclass(frozen=True)
class RetryFacts:
    """The PFMP and its latest request, as a retry sees them."""

    pfmp_status: str
    deleted: bool
    amount_cents: int | None  # the PFMP's current pool amount
    latest_request_id: UUID | None  # None: the PFMP never had a request
    latest_state: str | None
    asp_reasons: tuple[str, ...] = ()


def _payable(f: RetryFacts) -> RetryRefusal | None:
    if f.deleted:
        return "pfmp_deleted"
    if f.pfmp_status not in ("validated", "rectified"):
        return "pfmp_not_validated"
    # A rectified PFMP is payable even at 0 (its new total); a validated one at 0 has nothing to pay (D10).
    if f.amount_cents is None or (f.amount_cents == 0 and f.pfmp_status != "rectified"):
        return "nothing_to_pay"
    return None


def relaunch_refusal(f: RetryFacts, retried_request_id: UUID) -> RetryRefusal | None:
    """Why a director's "relancer" creates no request; None: create one, evaluated at once.

    Only the PFMP's latest request can be retried, and only once it failed for good (`rejected`, `unpaid`):
    an older id means the retry was already made or overtaken.
    """
    if f.latest_state is None:
        return "no_request"
    if f.latest_request_id != retried_request_id:
        return "not_latest_request"
    if f.latest_state not in FAILED:
        return "latest_not_failed"
    return _payable(f)


def automatic_retry_refusal(f: RetryFacts) -> RetryRefusal | None:
    """Why a new RIB or an address change does not retry this PFMP's request; None: create one, evaluated at
    once.

    Automatic only for a `validated` PFMP whose latest request was rejected for a recognised reason; any other
    failure (`fallback_message`, `unpaid`) waits for the director (relaunch_refusal).
    """
    if f.latest_state != "rejected":
        return "latest_not_failed"
    if not RECOGNISED_REJECTIONS.intersection(f.asp_reasons):
        return "not_a_recognised_rejection"
    if f.pfmp_status != "validated":
        return "pfmp_not_validated"
    return _payable(f)
