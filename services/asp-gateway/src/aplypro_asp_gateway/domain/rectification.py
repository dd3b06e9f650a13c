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
    # A relaunch after `unpaid` (is_relaunch): the same total again, with the normal address (nothing recovered)
    relaunch: bool = False


def is_rectification(request: PendingRequest) -> bool:
    """The request of a rectified PFMP whose first payment already left in a file: it can only modify."""
    return request.rectification and request.first_payment_sent


def is_relaunch(request: PendingRequest) -> bool:
    """A new request (not a rectification) of a PFMP whose first payment the ASP integrated and then could not
    pay (`unpaid`, §6.2), and never paid since: the director's relaunch (lifecycles.md §2, Retries).

    The ASP holds the PFMP's prestation (integration line, §5.1): a second creation would be refused as
    "n'est pas unique" or, under another number, create and pay the PFMP twice (§4.3, §9.2). So the relaunch
    modifies the prestation it holds (§8.1): its ids, the same PFMP number, the whole amount as the total (the
    ASP paid nothing: it pays the total)."""
    return not request.rectification and request.first_payment_sent and request.pfmp_unpaid


def relaunch_waiting(request: PendingRequest) -> str | None:
    """Why a relaunch cannot leave yet (the prestation's id unknown, or another request of the PFMP on its way),
    or None."""
    if request.asp_ids is None or request.asp_ids.prestation is None:
        return AWAITING_IDS
    if request.pfmp_in_flight:
        return AWAITING_PAYMENT
    return None


def modification_for(request: PendingRequest) -> Modification | None:
    """The modification this request sends, or None: a first payment, or a rectification or a relaunch that
    waits (`waiting_reason`, `relaunch_waiting`)."""
    ids, paid = request.asp_ids, request.asp_paid_cents
    if is_relaunch(request):
        if ids is None or relaunch_waiting(request) is not None:
            return None
        return Modification(asp_ids=ids, paid_cents=0, relaunch=True)
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
