"""Answers to an address-correction file (asp-exchange.md §4.9, §5.5): no state changes, only a report.

A correction integration line names our request (`idEnregistrement`: the PFMP's latest request) within the
correction file its name answers (an answer to a file we never built is `upload_unknown`), and the ids the ASP
holds; each id is compared with the one stored for the request's student, schooling and PFMP, and
every difference is an error listing "expected X, got Y" (ids are the ASP's numbers, never personal data).
A correction reject is an error to report with its classified reason; those PFMPs may be sent again.
The ASP's answer carries ids only: a corrected address itself never comes back (§5.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

from aplypro_asp_gateway.domain.return_lines import LineState, ReturnLine
from aplypro_asp_gateway.domain.return_match import Outcome, RequestView

CorrectionOutcome = Literal["confirmed", "ids_mismatch", "rejected", "unknown_record", "upload_unknown", "invalid"]


@dataclass(frozen=True)
class CorrectionReport:
    line_no: int
    record_id: int | None
    payment_request_id: UUID | None
    outcome: CorrectionOutcome
    mismatches: tuple[str, ...] = ()  # "dossier: expected 7654001, got 7654002"
    reason: str | None = None  # a reject's key from the errors dictionary (§6.1)
    # A reject's `Motif rejet` as the ASP wrote it (§5.5 reports it): kept in the table for operators, never
    # logged nor printed (it may quote an IBAN or a name), out of repr.
    motif: str | None = field(default=None, repr=False)


def check_corrections(lines: Sequence[ReturnLine], by_record: dict[int, RequestView],
                      upload_known: bool = True) -> list[CorrectionReport]:
    """`by_record`: the records of the correction file the answer names (§5.5); `upload_known`: that file is one
    of ours (else every line is `upload_unknown`)."""
    reports: list[CorrectionReport] = []
    for line in lines:
        request = by_record.get(line.record_id) if line.record_id is not None else None
        request_id = request.payment_request_id if request else None
        if line.state is LineState.INVALID:
            reports.append(CorrectionReport(line.line_no, line.record_id, request_id, "invalid",
                                            reason=line.reason_code))
        elif request is None:
            reports.append(CorrectionReport(line.line_no, line.record_id, None,
                                            "unknown_record" if upload_known else "upload_unknown",
                                            reason=line.reason_code))
        elif line.state is LineState.ADDRESS_REJECTED:
            reports.append(CorrectionReport(line.line_no, line.record_id, request_id, "rejected",
                                            reason=line.reason_code, motif=line.asp_text))
        else:
            found = _mismatches(line, request)
            reports.append(CorrectionReport(line.line_no, line.record_id, request_id,
                                            "ids_mismatch" if found else "confirmed", found))
    return reports


def _mismatches(line: ReturnLine, request: RequestView) -> tuple[str, ...]:
    ids = line.asp_ids
    got = (ids.individual, ids.dossier, ids.prestation) if ids else (None, None, None)
    held = (request.individual, request.dossier, request.prestation)
    return tuple(f"{name}: expected {want}, got {have}"
                 for name, want, have in zip(("individual", "dossier", "prestation"), held, got, strict=True)
                 if want != have)


def outcomes(lines: Sequence[ReturnLine], reports: Sequence[CorrectionReport]) -> list[Outcome]:
    """The ingest's line outcomes: a confirmed line is matched (no change); any other is reported (G4)."""
    return [Outcome(line, "applied") if report.outcome == "confirmed"
            else Outcome(line, "unmatched", f"correction_{report.outcome}")
            for line, report in zip(lines, reports, strict=True)]
