"""APLyPro message contracts: versioned, frozen pydantic models shared by every service."""

from .asp import PaymentRequestSentV1, PaymentRequestStateChangedV1
from .calculator import (
    AmountComputedV1,
    PaymentRequestBlockedV1,
    PaymentRequestedV1,
    RectificationComputedV1,
    SchoolingPricedV1,
)
from .documents import DocumentReadyV1
from .envelope import Envelope
from .errors import (
    ContractError,
    MalformedMessage,
    SchemaViolation,
    UnknownEventType,
    UnsupportedSchemaVersion,
)
from .pfmp import (
    DecisionWithdrawalRequestedV1,
    PaymentRetryRequestedV1,
    PfmpRecordedV1,
    PfmpRectifiedV1,
    PfmpState,
    PfmpValidatedV1,
)
from .registry import Registry, to_wire
from .students import (
    Address,
    Establishment,
    Identity,
    Mef,
    RibRecordedV1,
    SchoolingOpenedV1,
    StudentRegisteredV1,
)

# Latest versions under stable names: services import these, never a version number.
StudentRegistered = StudentRegisteredV1
SchoolingOpened = SchoolingOpenedV1
RibRecorded = RibRecordedV1
PfmpRecorded = PfmpRecordedV1
PfmpValidated = PfmpValidatedV1
DecisionWithdrawalRequested = DecisionWithdrawalRequestedV1
SchoolingPriced = SchoolingPricedV1
AmountComputed = AmountComputedV1
PaymentRequested = PaymentRequestedV1
DocumentReady = DocumentReadyV1
PaymentRequestSent = PaymentRequestSentV1
PaymentRequestStateChanged = PaymentRequestStateChangedV1
PaymentRequestBlocked = PaymentRequestBlockedV1
RectificationComputed = RectificationComputedV1
PfmpRectified = PfmpRectifiedV1
PaymentRetryRequested = PaymentRetryRequestedV1

ALL_MODELS: tuple[type[Envelope], ...] = (
    StudentRegisteredV1,
    SchoolingOpenedV1,
    RibRecordedV1,
    PfmpRecordedV1,
    PfmpValidatedV1,
    DecisionWithdrawalRequestedV1,
    SchoolingPricedV1,
    AmountComputedV1,
    PaymentRequestedV1,
    DocumentReadyV1,
    PaymentRequestSentV1,
    PfmpRectifiedV1,
    PaymentRequestBlockedV1,
    RectificationComputedV1,
    PaymentRequestStateChangedV1,
    PaymentRetryRequestedV1,
)


def default_registry() -> Registry:
    """The registry of every contract and its upcasters."""
    registry = Registry()
    registry.register(*ALL_MODELS)
    return registry


__all__ = [
    "ALL_MODELS",
    "Address",
    "AmountComputed",
    "AmountComputedV1",
    "ContractError",
    "DecisionWithdrawalRequested",
    "DecisionWithdrawalRequestedV1",
    "DocumentReady",
    "DocumentReadyV1",
    "Envelope",
    "Establishment",
    "Identity",
    "MalformedMessage",
    "Mef",
    "PaymentRequestBlocked",
    "PaymentRequestBlockedV1",
    "PaymentRequestSent",
    "PaymentRequestSentV1",
    "PaymentRequestStateChanged",
    "PaymentRequestStateChangedV1",
    "PaymentRequested",
    "PaymentRequestedV1",
    "PaymentRetryRequested",
    "PaymentRetryRequestedV1",
    "PfmpRecorded",
    "PfmpRecordedV1",
    "PfmpRectified",
    "PfmpRectifiedV1",
    "PfmpState",
    "PfmpValidated",
    "PfmpValidatedV1",
    "RectificationComputed",
    "RectificationComputedV1",
    "Registry",
    "RibRecorded",
    "RibRecordedV1",
    "SchemaViolation",
    "SchoolingOpened",
    "SchoolingOpenedV1",
    "SchoolingPriced",
    "SchoolingPricedV1",
    "StudentRegistered",
    "StudentRegisteredV1",
    "UnknownEventType",
    "UnsupportedSchemaVersion",
    "default_registry",
    "to_wire",
]
