"""Errors of the gateway's rules; `code` is stable and doubles as the dead-letter reason."""


class GatewayError(ValueError):
    code = "asp_gateway_error"


class PfmpAlreadyPending(GatewayError):
    """A second pending request for one PFMP: sending both would pay the PFMP twice."""

    code = "pfmp_has_pending_request"


class RecordBuildError(GatewayError):
    """One record lxml could not build: it is blocked alone, the rest of the file goes out (issue 9)."""

    code = "record_build_failed"


class FileOnDiskConflict(GatewayError):
    """The drop folder holds, under a file's name, bytes other than the ones recorded: never overwritten."""

    code = "payment_file_conflict"


class RecordSchemaError(RecordBuildError):
    """One record our XSD refuses (§4.8): it is blocked alone, the rest of the file goes out."""

    code = "asp_schema_invalid"


class PaymentFileInvalid(GatewayError):
    """An assembled file our XSD refuses although each record passed alone: it is never handed over."""

    code = "payment_file_invalid"


class InvalidAspId(GatewayError):
    """An id said to come from the ASP that is not an `xsd:long` digit string."""

    code = "invalid_asp_id"


class CorrectionRefused(GatewayError):
    """An address-correction file asked for PFMPs that cannot be in one (unknown, never integrated by the ASP,
    data missing): nothing is built. `refusals` pairs each PFMP id with its reason codes (no personal data)."""

    code = "address_correction_refused"

    def __init__(self, message: str, refusals: dict[str, tuple[str, ...]]) -> None:
        super().__init__(message)
        self.refusals = refusals


class RnvpUnavailable(GatewayError):
    """The RNVP service could not be asked (not configured, down, an unreadable answer): no correction leaves."""

    code = "rnvp_unavailable"
