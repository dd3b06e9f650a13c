"""APLyPro message contracts: versioned, frozen pydantic models shared by every service."""

from .asp import (
    MOVES_PER_EVENT,
    MovedRequest,
    PaymentRequestHeldV1,
    PaymentRequestSentV1,
    PaymentRequestSentV2,
    PaymentRequestsMovedV1,
    PaymentRequestStateChangedV1,
    PaymentRequestStateChangedV2,
    PaymentRequestStateChangedV3,
    with_parts,
)
from .calculator import (
    AmountComputedV1,
    PaymentRequestBlockedV1,
    PaymentRequestBlockedV2,
    PaymentRequestBlockedV3,
    PaymentRequestBlockedV4,
    PaymentRequestBlockedV5,
    PaymentRequestedV1,
    PaymentRequestedV2,
    RectificationComputedV1,
    SchoolingPricedV1,
)
from .documents import DOCUMENT_KIND_HEADER, DocumentIssuedV1, DocumentReadyV1, PfmpNumber
from .envelope import Envelope
from .errors import (
    ContractError,
    MalformedMessage,
    SchemaViolation,
    UnknownEventType,
    UnsupportedSchemaVersion,
)
from .pfmp import (
    DecisionAbrogationRequestedV1,
    DecisionIssueRequestedV1,
    DecisionWithdrawalRequestedV1,
    LiquidationIssueRequestedV1,
    PaymentRetryRequestedV1,
    PfmpRecordedV1,
    PfmpRecordedV2,
    PfmpRectifiedV1,
    PfmpRectifiedV2,
    PfmpState,
    PfmpStateV1,
    PfmpValidatedV1,
    PfmpValidatedV2,
    SchoolingExtendedV1,
)
from .registry import Registry, to_wire
from .students import (
    Address,
    Establishment,
    EstablishmentRegisteredV1,
    ExclusionChangedV1,
    Identity,
    Mef,
    RibArchivedV1,
    RibOnFileV1,
    RibRecordedV1,
    RibRecordedV2,
    RibStatusChangedV1,
    SchoolingChangedV1,
    SchoolingChangedV2,
    SchoolingClosedV1,
    SchoolingHiddenChangedV1,
    SchoolingOpenedV1,
    SchoolingOpenedV2,
    SchoolingReopenedV1,
    StudentAddressChangedV1,
    StudentIdentityChangedV1,
    StudentIneStatusChangedV1,
    StudentRegisteredV1,
    StudentRegisteredV2,
    StudentsMergedV1,
)
from .text import AggregateVersion, FreeText, Label, PersonName
from .upcasters import register_upcasters

# Latest versions under stable names: services import these, never a version number.
StudentRegistered = StudentRegisteredV2
StudentIdentityChanged = StudentIdentityChangedV1
StudentAddressChanged = StudentAddressChangedV1
SchoolingOpened = SchoolingOpenedV2
SchoolingChanged = SchoolingChangedV2
SchoolingClosed = SchoolingClosedV1
SchoolingReopened = SchoolingReopenedV1
RibRecorded = RibRecordedV2
RibOnFile = RibOnFileV1
RibArchived = RibArchivedV1
RibStatusChanged = RibStatusChangedV1
StudentIneStatusChanged = StudentIneStatusChangedV1
SchoolingHiddenChanged = SchoolingHiddenChangedV1
EstablishmentRegistered = EstablishmentRegisteredV1
StudentsMerged = StudentsMergedV1
ExclusionChanged = ExclusionChangedV1
PfmpRecorded = PfmpRecordedV2
PfmpValidated = PfmpValidatedV2
DecisionWithdrawalRequested = DecisionWithdrawalRequestedV1
DecisionIssueRequested = DecisionIssueRequestedV1
DecisionAbrogationRequested = DecisionAbrogationRequestedV1
LiquidationIssueRequested = LiquidationIssueRequestedV1
SchoolingPriced = SchoolingPricedV1
AmountComputed = AmountComputedV1
PaymentRequested = PaymentRequestedV2
DocumentReady = DocumentReadyV1
DocumentIssued = DocumentIssuedV1
PaymentRequestSent = PaymentRequestSentV2
PaymentRequestHeld = PaymentRequestHeldV1
PaymentRequestStateChanged = PaymentRequestStateChangedV3
PaymentRequestsMoved = PaymentRequestsMovedV1
PaymentRequestBlocked = PaymentRequestBlockedV5
SchoolingExtended = SchoolingExtendedV1
RectificationComputed = RectificationComputedV1
PfmpRectified = PfmpRectifiedV2
PaymentRetryRequested = PaymentRetryRequestedV1

# The events that carry a student's full identity, and those that carry a schooling's full state: a consumer
# applies each of a group as it applies the group's first one (same stale-drop by version), and must handle them
# all (tests/test_architecture.py), or it would miss a correction or a closing.
StudentState = StudentRegistered | StudentIdentityChanged | StudentAddressChanged
SchoolingState = SchoolingOpened | SchoolingChanged | SchoolingClosed | SchoolingReopened
STUDENT_STATE_EVENTS = ("StudentRegistered", "StudentIdentityChanged", "StudentAddressChanged")
SCHOOLING_STATE_EVENTS = ("SchoolingOpened", "SchoolingChanged", "SchoolingClosed", "SchoolingReopened")
# A student's current RIB at an establishment, bank-data-free: RibOnFile is RibStatusChanged's predecessor (same
# version sequence), still published for readers not upgraded; a reader of one applies both alike.
RibStatus = RibStatusChanged | RibOnFile
RIB_STATUS_EVENTS = ("RibOnFile", "RibStatusChanged")

ALL_MODELS: tuple[type[Envelope], ...] = (
    StudentRegisteredV1,
    StudentRegisteredV2,
    StudentIdentityChangedV1,
    StudentAddressChangedV1,
    SchoolingOpenedV1,
    SchoolingOpenedV2,
    SchoolingChangedV1,
    SchoolingChangedV2,
    SchoolingClosedV1,
    SchoolingReopenedV1,
    RibRecordedV1,
    RibRecordedV2,
    PfmpRecordedV1,
    PfmpRecordedV2,
    PfmpValidatedV1,
    PfmpValidatedV2,
    DecisionWithdrawalRequestedV1,
    SchoolingPricedV1,
    AmountComputedV1,
    PaymentRequestedV1,
    PaymentRequestedV2,
    DocumentIssuedV1,
    DocumentReadyV1,
    PaymentRequestSentV1,
    PaymentRequestSentV2,
    PfmpRectifiedV1,
    PfmpRectifiedV2,
    PaymentRequestBlockedV1,
    PaymentRequestBlockedV2,
    PaymentRequestBlockedV3,
    PaymentRequestBlockedV4,
    PaymentRequestBlockedV5,
    RectificationComputedV1,
    PaymentRequestStateChangedV1,
    PaymentRequestStateChangedV2,
    PaymentRequestStateChangedV3,
    PaymentRetryRequestedV1,
    RibOnFileV1,
    SchoolingExtendedV1,
    StudentIneStatusChangedV1,
    PaymentRequestHeldV1,
    SchoolingHiddenChangedV1,
    DecisionIssueRequestedV1,
    DecisionAbrogationRequestedV1,
    LiquidationIssueRequestedV1,
    EstablishmentRegisteredV1,
    StudentsMergedV1,
    ExclusionChangedV1,
    PaymentRequestsMovedV1,
    RibArchivedV1,
    RibStatusChangedV1,
)


def default_registry() -> Registry:
    """The registry of every contract and its upcasters."""
    registry = Registry()
    registry.register(*ALL_MODELS)
    register_upcasters(registry)
    return registry


__all__ = [
    "ALL_MODELS",
    "DOCUMENT_KIND_HEADER",
    "MOVES_PER_EVENT",
    "RIB_STATUS_EVENTS",
    "SCHOOLING_STATE_EVENTS",
    "STUDENT_STATE_EVENTS",
    "Address",
    "AggregateVersion",
    "AmountComputed",
    "AmountComputedV1",
    "ContractError",
    "DecisionAbrogationRequested",
    "DecisionAbrogationRequestedV1",
    "DecisionIssueRequested",
    "DecisionIssueRequestedV1",
    "DecisionWithdrawalRequested",
    "DecisionWithdrawalRequestedV1",
    "DocumentIssued",
    "DocumentIssuedV1",
    "DocumentReady",
    "DocumentReadyV1",
    "Envelope",
    "Establishment",
    "EstablishmentRegistered",
    "EstablishmentRegisteredV1",
    "ExclusionChanged",
    "ExclusionChangedV1",
    "FreeText",
    "Identity",
    "Label",
    "LiquidationIssueRequested",
    "LiquidationIssueRequestedV1",
    "MalformedMessage",
    "Mef",
    "MovedRequest",
    "PaymentRequestBlocked",
    "PaymentRequestBlockedV1",
    "PaymentRequestBlockedV2",
    "PaymentRequestBlockedV3",
    "PaymentRequestBlockedV4",
    "PaymentRequestBlockedV5",
    "PaymentRequestHeld",
    "PaymentRequestHeldV1",
    "PaymentRequestSent",
    "PaymentRequestSentV1",
    "PaymentRequestSentV2",
    "PaymentRequestStateChanged",
    "PaymentRequestStateChangedV1",
    "PaymentRequestStateChangedV2",
    "PaymentRequestStateChangedV3",
    "PaymentRequested",
    "PaymentRequestedV1",
    "PaymentRequestedV2",
    "PaymentRequestsMoved",
    "PaymentRequestsMovedV1",
    "PaymentRetryRequested",
    "PaymentRetryRequestedV1",
    "PersonName",
    "PfmpNumber",
    "PfmpRecorded",
    "PfmpRecordedV1",
    "PfmpRecordedV2",
    "PfmpRectified",
    "PfmpRectifiedV1",
    "PfmpRectifiedV2",
    "PfmpState",
    "PfmpStateV1",
    "PfmpValidated",
    "PfmpValidatedV1",
    "PfmpValidatedV2",
    "RectificationComputed",
    "RectificationComputedV1",
    "Registry",
    "RibArchived",
    "RibArchivedV1",
    "RibOnFile",
    "RibOnFileV1",
    "RibRecorded",
    "RibRecordedV1",
    "RibRecordedV2",
    "RibStatus",
    "RibStatusChanged",
    "RibStatusChangedV1",
    "SchemaViolation",
    "SchoolingChanged",
    "SchoolingChangedV1",
    "SchoolingChangedV2",
    "SchoolingClosed",
    "SchoolingClosedV1",
    "SchoolingExtended",
    "SchoolingExtendedV1",
    "SchoolingHiddenChanged",
    "SchoolingHiddenChangedV1",
    "SchoolingOpened",
    "SchoolingOpenedV1",
    "SchoolingOpenedV2",
    "SchoolingPriced",
    "SchoolingPricedV1",
    "SchoolingReopened",
    "SchoolingReopenedV1",
    "SchoolingState",
    "StudentAddressChanged",
    "StudentAddressChangedV1",
    "StudentIdentityChanged",
    "StudentIdentityChangedV1",
    "StudentIneStatusChanged",
    "StudentIneStatusChangedV1",
    "StudentRegistered",
    "StudentRegisteredV1",
    "StudentRegisteredV2",
    "StudentState",
    "StudentsMerged",
    "StudentsMergedV1",
    "UnknownEventType",
    "UnsupportedSchemaVersion",
    "default_registry",
    "to_wire",
    "with_parts",
]
