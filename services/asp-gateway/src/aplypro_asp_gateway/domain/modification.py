"""Modification records (asp-exchange.md §4.2, §8): a PFMP the ASP already holds, rectified up or down or
cancelled, sent again with the ids the ASP returned at integration.

On the wire every variant is the same shape: the three ids with `modification` O/N/O, the PFMP's **new
total** in `MTTOTALFINANCEMENT` (never a difference, never negative, 0 for a full cancellation) and an Indu
address with street lines, so that the ASP can mail a recovery order when the total went down. The ASP
computes the difference: a complement is paid, an overpayment (indu) becomes a recovery order (§5.4).

Pure: the ids and the amount paid come from the return files, read with the request (requests_repo.py);
`prepare_request` chooses the variant (domain/rectification.py) for the build.
"""

from __future__ import annotations

from typing import Literal

from aplypro_asp_gateway.domain.model import AspIds, Blocked, Parametrage, PaymentRecord, PendingRequest
from aplypro_asp_gateway.domain.readiness import Modification, prepare
from aplypro_asp_gateway.domain.rectification import modification_for

Variant = Literal["first_payment", "rectification_up", "rectification_down", "cancellation", "relaunch"]
VARIANTS: tuple[Variant, ...] = ("first_payment", "rectification_up", "rectification_down", "cancellation",
                                 "relaunch")

__all__ = ["VARIANTS", "AspIds", "Modification", "Variant", "build_modification", "prepare_request"]


def prepare_request(request: PendingRequest, params: Parametrage) -> PaymentRecord | Blocked:
    """The record a pending request leaves as: a first payment, or the modification of a rectified PFMP the
    ASP holds (its ids and paid total known, nothing else of the PFMP on its way); else every blocking reason."""
    return prepare(request, params, modification_for(request))


def build_modification(request: PendingRequest, params: Parametrage, asp_ids: AspIds, *,
                       paid_cents: int) -> PaymentRecord | Blocked:
    """The modification record of a rectified request, or every reason it cannot leave.

    `paid_cents`: what the ASP paid for the PFMP so far. A new total below it (a recovery, or 0: a full
    cancellation) parks as `negative_rectification` while `params.negative_rectification_blocked` (§8.2).
    The first-payment guards do not apply: this record carries ids, the ASP updates what it holds.
    """
    return prepare(request, params, Modification(asp_ids=asp_ids, paid_cents=paid_cents))
