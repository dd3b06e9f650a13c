"""The establishment's DAs due for abrogation (features.md §2 "List abrogeable DAs", documents.md §5.2): closed
schoolings with an issued DA, neither abrogated nor withdrawn, that a more recent schooling of the student in the
same school year supersedes (in any establishment). The rule is domain.abrogation's, the one the abrogate
command checks (and documents after it): the list never offers an abrogation the command would refuse."""

from __future__ import annotations

from datetime import date

from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters import decisions_sql
from aplypro_pfmp.domain.abrogation import abrogation_refusal


async def abrogeable_decisions(conn: Connection, uai: str, today: date) -> list[decisions_sql.Candidate]:
    """Newest school year first, then by class and name; those already asked stay, with when."""
    candidates = await decisions_sql.abrogation_candidates(conn, uai, today)
    spans = await decisions_sql.spans_of_students(conn, sorted({c.student_id for c in candidates}))
    return [c for c in candidates
            if abrogation_refusal(decisions_sql.Span(c.schooling_id, c.school_year, c.start_date, c.end_date),
                                  spans[c.student_id], today) is None]
