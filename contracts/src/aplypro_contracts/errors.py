"""Why a message could not be turned into a contract; each code is a stable dead-letter reason."""


class ContractError(ValueError):
    code = "contract_error"


class MalformedMessage(ContractError):
    code = "malformed"


class UnknownEventType(ContractError):
    code = "unknown_event_type"


class UnsupportedSchemaVersion(ContractError):
    code = "unsupported_schema_version"


class SchemaViolation(ContractError):
    code = "schema_violation"
