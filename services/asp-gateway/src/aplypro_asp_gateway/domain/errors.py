"""Errors of the gateway's rules; `code` is stable and doubles as the dead-letter reason."""


class GatewayError(ValueError):
    code = "asp_gateway_error"


class PfmpAlreadyPending(GatewayError):
    """A second pending request for one PFMP: sending both would pay the PFMP twice."""

    code = "pfmp_has_pending_request"
