"""What the student page shows of money and decisions: each PFMP's amount, each payment request with its
French state (features.md §3) and every blocking reason with what to do, the DA badge and report of each
schooling. Read from pfmp's own tables, fed by the events it consumes (service_layer.facts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters import (
    actions_sql,
    decision_content_sql,
    decisions_sql,
    payments_sql,
    school_years_sql,
    schooling_badges_sql,
    web_sql,
)
from aplypro_pfmp.domain.abrogation import abrogation_refusal
from aplypro_pfmp.service_layer.director_actions import RELAUNCHABLE, RETRIABLE

from .reason_words import Words, words
from .rendering import templates

# lifecycles.md §2: state → (French label, DSFR badge)
REQUEST_STATES = {
    "pending": ("En attente", "fr-badge--new"),
    "ready": ("En attente", "fr-badge--new"),
    "incomplete": ("Bloquée", "fr-badge--error"),
    "sent": ("En traitement", "fr-badge--info"),
    "integrated": ("En traitement", "fr-badge--info"),
    "rejected": ("Demande rejetée", "fr-badge--error"),
    "paid": ("Paiement envoyé", "fr-badge--success"),
    "unpaid": ("Paiement échoué", "fr-badge--error"),
}


def euros(cents: int | None) -> str:
    """1234500 → "12 345,00 €" (French grouping with a narrow no-break space); None → "—"."""
    if cents is None:
        return "—"
    whole, rest = divmod(cents, 100)
    return f"{whole:,}".replace(",", "\u202f") + f",{rest:02d}\u00a0€"


templates.env.filters["euros"] = euros


ASKED = {"issue_missing_decisions": "Édition demandée", "reissue_decisions": "Réédition demandée",
         "abrogate_decision": "Abrogation demandée"}


def asked_words(asked: decisions_sql.Asked | None) -> str | None:
    """"Réédition demandée le 05/12/2026 (12 décisions)": what the director asked last, and when."""
    if asked is None:
        return None
    count = f" ({asked.item_count} décision{'s' if asked.item_count > 1 else ''})" if asked.item_count else ""
    return f"{ASKED.get(asked.action, asked.action)} le {asked.at:%d/%m/%Y à %H:%M}{count}"


@dataclass(frozen=True)
class RequestView:
    payment_request_id: UUID
    state: str
    label: str
    badge: str
    amount_cents: int | None
    reasons: list[tuple[str, Words]]
    relaunchable: bool  # the PFMP's latest request, failed for good
    retriable: bool = False  # the PFMP's latest request, blocked (calculator or gateway): "Retenter"


@dataclass(frozen=True)
class PfmpMoney:
    pfmp_id: UUID
    start_date: date
    end_date: date
    amount_cents: int | None
    rectifiable: bool  # paid, so an edit is a rectification (the confirmed director's)
    requests: list[RequestView] = field(default_factory=list)


@dataclass(frozen=True)
class SchoolingDecision:
    schooling_id: UUID
    school_year: int
    class_label: str | None
    end_date: date | None
    badge: str  # Éditée, Reportée (Éditée with a report), Abrogée, Retirée, Manquante
    report: date | None
    withdrawable: bool
    withdrawal_asked: bool
    abrogeable: bool = False  # closed and superseded in its year (domain.abrogation), not asked yet
    asked: str | None = None  # the latest DA command naming it, and when ("Réédition demandée le …")
    stale: tuple[str, ...] = ()  # what changed since the DA was issued, in French (documents.md §6): reissue it


def _request_view(row: payments_sql.PaymentRow, latest: bool, relaunched: set[UUID]) -> RequestView:
    label, badge = REQUEST_STATES.get(row.state, (row.state, ""))
    return RequestView(row.payment_request_id, row.state, label, badge, row.amount_cents,
                       [(key, words(key, row.state)) for key in row.reasons],
                       latest and row.state in RELAUNCHABLE and row.payment_request_id not in relaunched,
                       retriable=latest and row.state in RETRIABLE)


async def money_of_student(conn: Connection, student_id: UUID, pfmps: list[web_sql.PfmpRow]) -> list[PfmpMoney]:
    computed = await payments_sql.amounts_of_student(conn, student_id)
    relaunched = await actions_sql.relaunched(conn, student_id)
    by_pfmp: dict[UUID, list[payments_sql.PaymentRow]] = {}
    for row in await payments_sql.payments_of_student(conn, student_id):
        by_pfmp.setdefault(row.pfmp_id, []).append(row)
    out = []
    for p in pfmps:
        rows = by_pfmp.get(p.pfmp_id, [])
        requested = [r.amount_cents for r in rows if r.amount_cents is not None]
        amount = computed.get(p.pfmp_id, requested[-1] if requested else None)
        out.append(PfmpMoney(p.pfmp_id, p.start_date, p.end_date, amount,
                             rectifiable=p.status in ("validated", "rectified") and any(r.state == "paid" for r in rows),
                             requests=[_request_view(r, i == len(rows) - 1, relaunched) for i, r in enumerate(rows)]))
    return out


# decision_content_sql.INPUTS in French: what a stale DA prints that changed since.
STALE_INPUTS = {
    "student": "l'identité ou l'adresse de l'élève",
    "training": "la formation (MEF) ou les coordonnées de l'établissement",
    "rates": "le barème (taux journalier ou plafond annuel)",
}


def stale_words(changed: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(STALE_INPUTS[name] for name in changed)


async def decisions_of_student(conn: Connection, student: web_sql.StudentPage,
                               today: date | None = None) -> list[SchoolingDecision]:
    out = []
    spans = await decisions_sql.spans_of_student(conn, student.student_id)
    stale = await decision_content_sql.stale(conn, [s[0] for s in student.schoolings])
    for schooling_id, year, klass, _start, end in student.schoolings:
        kinds = await actions_sql.decision_kinds(conn, schooling_id)
        badge = ("Retirée" if "retrait" in kinds else "Abrogée" if "abrogation" in kinds
                 else "Éditée" if "attribution" in kinds else "Manquante")
        report, _ = await school_years_sql.report_of(conn, schooling_id)
        shown = "Reportée" if badge == "Éditée" and report is not None else badge  # features.md §3
        asked = await actions_sql.already_done(conn, "withdraw_decision", schooling_id=schooling_id)
        command = await decisions_sql.asked_for_schooling(conn, schooling_id)
        this = next(span for span in spans if span.schooling_id == schooling_id)
        abrogeable = (badge == "Éditée" and today is not None and abrogation_refusal(this, spans, today) is None
                      and not (command and command.action == "abrogate_decision"))
        out.append(SchoolingDecision(schooling_id, year, klass, end, shown, report,
                                     withdrawable=badge == "Éditée" and not asked, withdrawal_asked=asked,
                                     abrogeable=abrogeable, asked=asked_words(command),
                                     stale=stale_words(stale.get(schooling_id, ()))))
    return out


async def student_context(conn: Connection, student: web_sql.StudentPage,
                          pfmps: list[web_sql.PfmpRow], today: date | None = None) -> dict[str, Any]:
    """The student page's extra context (pages.student_page merges it)."""
    ids = [s[0] for s in student.schoolings]
    return {"money": await money_of_student(conn, student.student_id, pfmps),
            "decisions": await decisions_of_student(conn, student, today),
            "hidden_schoolings": await schooling_badges_sql.hidden(conn, ids),
            "capped_schoolings": await schooling_badges_sql.capped(conn, ids)}
