"""Which events travel on which topic, who owns the topic and who reads it (the topics table)."""

from __future__ import annotations

from dataclasses import dataclass

from .asp import (
    PaymentRequestHeldV1,
    PaymentRequestSentV2,
    PaymentRequestsMovedV1,
    PaymentRequestStateChangedV3,
)
from .calculator import (
    AmountComputedV1,
    PaymentRequestBlockedV5,
    PaymentRequestedV2,
    RectificationComputedV1,
    SchoolingPricedV1,
)
from .documents import DocumentIssuedV1, DocumentReadyV1
from .envelope import Envelope
from .inbound import SchoolingReportedV1, SchoolingRetractedV1, inbound_topic, rejections_topic
from .pfmp import (
    DecisionAbrogationRequestedV1,
    DecisionIssueRequestedV1,
    DecisionWithdrawalRequestedV1,
    LiquidationIssueRequestedV1,
    PaymentRetryRequestedV1,
    PfmpRecordedV2,
    PfmpRectifiedV2,
    PfmpValidatedV2,
    SchoolingExtendedV1,
)
from .students import (
    EstablishmentRegisteredV1,
    ExclusionChangedV1,
    RibArchivedV1,
    RibOnFileV1,
    RibRecordedV2,
    RibStatusChangedV1,
    SchoolingChangedV2,
    SchoolingClosedV1,
    SchoolingHiddenChangedV1,
    SchoolingOpenedV2,
    SchoolingReopenedV1,
    StudentAddressChangedV1,
    StudentIdentityChangedV1,
    StudentIneStatusChangedV1,
    StudentRegisteredV2,
    StudentsMergedV1,
)
from .topics import (
    ASP_EVENTS,
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    PFMP_EVENTS,
    STUDENTS_EVENTS,
    STUDENTS_RIBS,
)


@dataclass(frozen=True)
class TopicInfo:
    name: str
    owner: str
    key: str
    events: tuple[type[Envelope], ...]
    readers: tuple[str, ...]
    note: str = ""


CATALOG: tuple[TopicInfo, ...] = (
    TopicInfo(STUDENTS_EVENTS, "students", "student_id", (StudentRegisteredV2, StudentIdentityChangedV1,
                                               StudentAddressChangedV1, SchoolingOpenedV2, SchoolingChangedV2,
                                               SchoolingClosedV1, SchoolingReopenedV1, RibStatusChangedV1,
                                               RibOnFileV1,
                                               StudentIneStatusChangedV1, SchoolingHiddenChangedV1,
                                               EstablishmentRegisteredV1, StudentsMergedV1,
                                               ExclusionChangedV1),
              ("pfmp", "calculator", "documents", "asp-gateway"),
              "every reader applies StudentIdentityChanged and StudentAddressChanged as it applies "
              "StudentRegistered (full identity, newest version wins), and SchoolingChanged, SchoolingClosed and "
              "SchoolingReopened as SchoolingOpened (full state, newest version wins; a directory load that changes an "
              "establishment re-sends its schoolings as SchoolingChanged v2, changed: establishment); "
              "the asp-gateway reads StudentIneStatusChanged for the payment gate ine_not_found; pfmp reads "
              "RibStatusChanged and its predecessor RibOnFile alike (validation's RIB guard; RibOnFile is still "
              "published with each RibRecorded for readers not upgraded); pfmp reads "
              "SchoolingHiddenChanged for its pages and counters, and EstablishmentRegistered (keyed by UAI, "
              "not by student) for the statistics' budget prefixes and establishment columns; the calculator, "
              "documents and asp-gateway read SchoolingHiddenChanged to pay nothing on a hidden (removed or "
              "retracted) schooling: reason hidden_schooling, no first DA; StudentsMerged (an operator's merge of two "
              "students, ids only) re-points pfmp's, the calculator's and the asp-gateway's state to the survivor (one "
              "yearly cap; the ASP individual id moves with it); the "
              "calculator reads ExclusionChanged (keyed by UAI) to keep its exclusion list the students' one"),
    TopicInfo(STUDENTS_RIBS, "students", "student_id", (RibRecordedV2, RibArchivedV1),
              ("documents", "asp-gateway", "calculator"),
              "restricted: bank details (the calculator reads only RibRecorded's student id and establishment, to "
              "retry requests rejected for bank details); documents and the asp-gateway apply RibArchived (ids "
              "only): an archived RIB is never printed nor put in a file again"),
    TopicInfo(PFMP_EVENTS, "pfmp", "student_id",
              (PfmpRecordedV2, PfmpValidatedV2, PfmpRectifiedV2, DecisionWithdrawalRequestedV1, PaymentRetryRequestedV1,
               SchoolingExtendedV1, DecisionIssueRequestedV1, DecisionAbrogationRequestedV1,
               LiquidationIssueRequestedV1),
              ("calculator", "documents", "asp-gateway"),
              "keyed by student so that one pool has one writer; documents reads the director's decision commands "
              "and the ASP agents' LiquidationIssueRequested, "
              "the asp-gateway only PaymentRetryRequested (a request it holds is checked again)"),
    TopicInfo(CALCULATOR_EVENTS, "calculator", "student_id",
              (SchoolingPricedV1, AmountComputedV1, PaymentRequestedV2, PaymentRequestBlockedV5, RectificationComputedV1),
              ("documents", "asp-gateway", "pfmp", "students"),
              "students reads PaymentRequested: a schooling with a payment request cannot be retracted by its "
              "producer"),
    TopicInfo(DOCUMENTS_EVENTS, "documents", "student_id", (DocumentIssuedV1, DocumentReadyV1),
              ("calculator", "pfmp", "asp-gateway", "students"),
              "DocumentIssued when a document's number and content are fixed, DocumentReady once its PDF is stored; "
              "the calculator reads the décisions d'attribution issued, abrogated and withdrawn (payment gates); "
              "pfmp reads them for validation's DA guard; the asp-gateway reads the retraits, to hold back a "
              "request already handed over; students reads the attributions (no retraction by a producer after "
              "one). Header document-kind carries each one's kind: calculator, pfmp and students skip the états "
              "liquidatifs unparsed"),
    TopicInfo(ASP_EVENTS, "asp-gateway", "student_id",
              (PaymentRequestSentV2, PaymentRequestStateChangedV3, PaymentRequestHeldV1, PaymentRequestsMovedV1),
              ("calculator", "pfmp", "students"),
              "PaymentRequestHeld is for showing (its reasons in words: aplypro_contracts.reasons); the request's "
              "state stays the calculator's; students reads PaymentRequestStateChanged (`ready` when the request "
              "is built into a file, with its rib_id), PaymentRequestSent (its rib_id): a RIB frozen on a request "
              "in progress cannot be archived (unarchivable_rib)"),
)

# Pushed to us by other ministries' systems (docs/producers.md): one topic per producer, `<producer>` standing
# for its id; each producer reads its rejections on its own `.rejected` topic.
INBOUND: tuple[TopicInfo, ...] = (
    TopicInfo(inbound_topic("<producer>"), "<producer>", "the producer's stable, opaque learner id (never the INE)",
              (SchoolingReportedV1, SchoolingRetractedV1), ("students",),
              "headers event-type and schema-version; rejections on " + rejections_topic("<producer>")),
)
