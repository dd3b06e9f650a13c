"""Errors of the student APIs (SYGNE, FREGATA): a stable `code`, never a URL, INE or name."""

from __future__ import annotations


class IneNotFound(LookupError):
    """The API does not know the INE (404 on the detail): the student's payments are blocked (ine_not_found)."""

    code = "ine_not_found"

    def __init__(self, source: str) -> None:
        super().__init__(f"{source}: the student is unknown to the API")
        self.source = source


class ApiUnavailable(ConnectionError):
    """Still failing after the retries (429, 5xx, timeouts), or asked to come back too late: try the run later."""

    code = "api_unavailable"

    def __init__(self, source: str, resource: str, reason: str) -> None:
        # `resource` is the path template (`eleves/{ine}`), never the filled-in path
        super().__init__(f"{source} {resource}: {reason}")
        self.source, self.resource, self.reason = source, resource, reason


class ApiAuthFailed(PermissionError):
    """The API refused our credentials (token endpoint error, or 401/403 after a fresh token)."""

    code = "api_auth_failed"

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: authentication failed ({reason})")
        self.source, self.reason = source, reason


class ApiBadPayload(ValueError):
    """The answer is not the JSON shape the API documents."""

    code = "api_bad_payload"

    def __init__(self, source: str, resource: str, reason: str) -> None:
        super().__init__(f"{source} {resource}: {reason}")
        self.source, self.resource, self.reason = source, resource, reason


class ApiRequestRefused(ValueError):
    """The API answered our request with a client error other than an auth one (400, 404, ...): not retried."""

    code = "api_request_refused"

    def __init__(self, source: str, resource: str, status: int) -> None:
        super().__init__(f"{source} {resource}: refused with status {status}")
        self.source, self.resource, self.status = source, resource, status
