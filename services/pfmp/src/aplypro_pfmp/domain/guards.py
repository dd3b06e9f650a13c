"""What a PFMP's latest payment request allows (lifecycles.md §1, "Edits without state change").

| latest request               | edit            | delete                     |
| none, pending, incomplete    | yes             | yes, if never integrated   |
| rejected                     | yes             | yes, if never integrated   |
| unpaid                       | yes             | no (known to ASP)          |
| ready, sent, integrated      | no (ongoing)    | no (ongoing)               |
| paid                         | rectification   | no                         |

A rectified PFMP whose new request is not committed yet (none, pending, incomplete) is edited through the
rectification once more.
"""

from __future__ import annotations

from enum import StrEnum

from aplypro_pfmp.domain.pfmp import PfmpError, Status

ONGOING = frozenset({"ready", "sent", "integrated"})  # the request is on its way to (or inside) the ASP


class EditPath(StrEnum):
    PLAIN = "plain"  # PfmpRecorded: the calculator recomputes and re-evaluates the request
    RECTIFICATION = "rectification"  # PfmpRectified: the calculator pays (or recovers) the difference


def edit_path(status: Status, latest: str | None) -> EditPath:
    """How an edit of dates or day count goes, or why it is refused."""
    if latest in ONGOING:
        raise PfmpError("pfmp_payment_ongoing",
                        "a payment request of this PFMP is with the ASP: wait for its outcome before editing")
    if latest == "paid":
        return EditPath.RECTIFICATION
    if status is Status.RECTIFIED:  # its new request is not committed yet: the same rules once more
        return EditPath.RECTIFICATION
    return EditPath.PLAIN


def check_deletable(latest: str | None, known_to_asp: bool) -> None:
    """Delete only what the ASP never integrated, and never while a request is ongoing."""
    if latest in ONGOING:
        raise PfmpError("pfmp_payment_ongoing",
                        "a payment request of this PFMP is with the ASP: it cannot be deleted now")
    if known_to_asp or latest in {"paid", "unpaid"}:
        raise PfmpError("pfmp_known_to_asp",
                        "the ASP has integrated this PFMP: it can no longer be deleted (rectify it instead)")
