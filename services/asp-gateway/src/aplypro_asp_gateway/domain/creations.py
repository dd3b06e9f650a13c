"""What a first-payment record creates at the ASP, and what it must wait for (asp-exchange.md §4.3).

The ASP refuses a second creation of the same DA number ("Le numéro administratif <NUMADM> n'est pas
unique") and knows an individual once. So a record carries the ids an integration line already gave (the
individual's, the dossier's: the ASP then only creates the PFMP's prestation), and a record that would
create an individual or a dossier already being created (by a request sent and not answered yet, or by an
earlier record of the same file) waits as `awaiting_asp_integration` until the answer gives the ids, or a
rejection frees the creation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from uuid import UUID

from aplypro_asp_gateway.domain.model import AspIds, Blocked, KnownIds, PaymentRecord

AWAITING = "awaiting_asp_integration"
# G5 (§9.2): the record it waits for was uploaded and not answered within the timeout. Never re-sent nor created
# a second time (that could create or pay twice): it keeps waiting, under this reason, until an operator settles
# the file with the ASP; the answer, when it comes, wakes it like any other.
AWAITING_OVERDUE = "awaiting_asp_answer_overdue"


@dataclass
class Creations:
    """The individuals and dossiers this file creates so far (students and schoolings without ASP ids)."""

    known: KnownIds
    individuals: set[UUID] = field(default_factory=set)
    dossiers: set[UUID] = field(default_factory=set)

    def resolve(self, record: PaymentRecord) -> PaymentRecord | Blocked:
        """The record with the ids the ASP gave, or Blocked while its individual or dossier is being created.
        A modification (prestation id: it creates nothing) and a record without keys go through unchanged."""
        student, schooling = record.student_id, record.schooling_id
        if record.asp_ids is not None or student is None or schooling is None:
            return record
        individual = self.known.individuals.get(student)
        dossier = self.known.dossiers.get(schooling) if individual else None
        by_student = individual is None and student in self.known.in_flight_students
        by_schooling = dossier is None and schooling in self.known.in_flight_schoolings
        if by_student or by_schooling:
            overdue = (not by_student or student in self.known.overdue_students) and (
                not by_schooling or schooling in self.known.overdue_schoolings)
            # woken by the ingest of the answer (or by the G5 watch, which turns it into the overdue reason)
            return Blocked(record.payment_request_id, (AWAITING_OVERDUE if overdue else AWAITING,))
        if (individual is None and student in self.individuals) or (dossier is None and schooling in self.dossiers):
            # The creator is in this file: checked again at the next build, when it is `sent` (or was dropped).
            return Blocked(record.payment_request_id, (AWAITING,), recheck=True)
        if dossier is not None:
            individual = self.known.dossier_individuals.get(schooling, individual)
        return replace(record, asp_ids=AspIds(individual, dossier)) if individual else record

    def take(self, record: PaymentRecord) -> None:
        """A record kept in the file: what it creates is taken for the rest of the file."""
        if record.student_id is None or record.schooling_id is None or not record.first_payment:
            return
        if record.asp_ids is None:
            self.individuals.add(record.student_id)
        if record.asp_ids is None or record.asp_ids.dossier is None:
            self.dossiers.add(record.schooling_id)
