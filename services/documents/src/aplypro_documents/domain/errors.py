"""Domain errors of the documents service, each with a stable `code`.

The code doubles as the `DocumentIssueFailed` reason and the dead-letter reason (documents.md §8).
"""

from typing import ClassVar


class DocumentRuleError(ValueError):
    """A document cannot be numbered or issued because a rule forbids it."""

    code: ClassVar[str] = "document_rule"


class UnsupportedBudgetPrefixError(DocumentRuleError):
    """ARMEE and MENJ_OTHER numbers do not fit the ASP's 18–19 characters (documents.md §4)."""

    code: ClassVar[str] = "unsupported_budget_prefix"


class UnknownMinistryError(DocumentRuleError):
    code: ClassVar[str] = "unknown_ministry"


class VersionLimitReachedError(DocumentRuleError):
    """The DA number has room for one version digit, so a schooling is issued at most nine times."""

    code: ClassVar[str] = "version_limit_reached"


class InvalidNumberError(DocumentRuleError):
    """A number part is malformed (administrative number, school year, version, PFMP rank)."""

    code: ClassVar[str] = "invalid_number"


class InvalidDocumentError(DocumentRuleError):
    """Document content breaks an invariant (negative amount, no PFMP section, ...)."""

    code: ClassVar[str] = "invalid_document"


class NoAttributionDecisionError(DocumentRuleError):
    """A retrait was asked for a schooling that has no DA, issued or on its way (lifecycles.md §3)."""

    code: ClassVar[str] = "no_attribution_decision"


class DecisionAbrogatedError(DocumentRuleError):
    """The DA was already abrogated: abrogated and withdrawn are both final states (lifecycles.md §3)."""

    code: ClassVar[str] = "attribution_decision_abrogated"


class SchoolingStudentMismatchError(DocumentRuleError):
    """The request names a student the schooling does not belong to."""

    code: ClassVar[str] = "schooling_student_mismatch"
