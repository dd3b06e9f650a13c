"""Which record a rectified PFMP's request leaves as (asp-exchange.md §8.1, §9.2): a modification of the
prestation the ASP already holds, never a second first payment.

A rectification needs what the ASP returned for the PFMP: its three ids (integration line, §5.1) and the total
it paid (payment or recovery-order line, §5.3–5.4). Until both are known, and while another request of the
PFMP is still on its way (`sent` or `integrated`: its answer changes what the ASP paid), the request waits with
a reason saying which answer it waits for; the ingest of that answer wakes it (ingest.py, wake_waiting).
"""

from __future__ import annotations

from dataclasses import dataclass

from aplypro_asp_gateway.domain.model import AspIds, PendingRequest

AWAITING_IDS = "awaiting_asp_ids"  # the PFMP's first payment is not integrated yet: no prestation id to modify
AWAITING_PAYMENT = "awaiting_asp_payment"  # an earlier request of the PFMP is not answered by a payment yet
NOTHING_PAID = "rectification_of_unpaid_pfmp"  # the ASP never paid this PFMP: nothing to rectify


@dataclass(frozen=True)
class Modification:
    """What turns a request into a modification record: the ASP's ids of the PFMP's prestation, and the total
    the ASP holds for the PFMP (what it paid so far, in cents)."""

    asp_ids: AspIds
    paid_cents: int


def is_rectification(request: PendingRequest) -> bool:
    """The request of a rectified PFMP whose first payment already left in a file: it can only modify."""
    return request.rectification and request.first_payment_sent


def modification_for(request: PendingRequest) -> Modification | None:
    """The modification this request sends, or None: a first payment, or a rectification that waits
    (`waiting_reason`)."""
    ids, paid = request.asp_ids, request.asp_paid_cents
    if not is_rectification(request) or waiting_reason(request) is not None or ids is None or paid is None:
        return None
    return Modification(asp_ids=ids, paid_cents=paid)


def waiting_reason(request: PendingRequest) -> str | None:
    """Why a rectification cannot leave yet, or None when it can."""
    if request.asp_ids is None or request.asp_ids.prestation is None:
        return AWAITING_IDS
    if request.pfmp_in_flight:
        return AWAITING_PAYMENT
    if request.asp_paid_cents is None:
        return NOTHING_PAID
    return None
