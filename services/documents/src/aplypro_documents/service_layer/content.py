"""Document content from the projected rows: the four kinds, their number, version and object key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from aplypro_documents.domain.decisions import SchoolingSpan
from aplypro_documents.domain.model import (
    Abrogation,
    AttributionDecision,
    BankAccount,
    Document,
    DocumentKind,
    Establishment,
    LiquidationSection,
    LiquidationStatement,
    Ministry,
    PostalAddress,
    Signatory,
    Student,
    Training,
    Withdrawal,
    abrogation_motives,
)
from aplypro_documents.domain.numbering import budget_prefix, da_number
from aplypro_documents.rendering.payloads import to_payload

PARIS = ZoneInfo("Europe/Paris")  # the issue date of a document is the French calendar day


def paris_today() -> date:
    return datetime.now(PARIS).date()


# DocumentReady.kind names the retrait in French, as the schools and the ASP do.
WireKind = Literal["attribution", "abrogation", "retrait", "liquidation"]
WIRE_KINDS: dict[DocumentKind, WireKind] = {
    DocumentKind.ATTRIBUTION: "attribution",
    DocumentKind.ABROGATION: "abrogation",
    DocumentKind.WITHDRAWAL: "retrait",
    DocumentKind.LIQUIDATION: "liquidation",
}


def _address(lines: list[str], postcode: str | None, city: str | None) -> PostalAddress:
    line1, line2 = ([*lines, "", ""])[:2]
    return PostalAddress(line1=line1, line2=line2, postcode=postcode or "", city=city or "")


def student_from(identity: dict[str, Any]) -> Student:
    address = identity.get("address") or {}
    return Student(identity["last_name"], " ".join(identity["first_names"]), date.fromisoformat(identity["birth_date"]),
                   _address(list(address.get("lines") or []), address.get("postal_code"), address.get("city_name")))


def establishment_from(school: dict[str, Any]) -> Establishment:
    return Establishment(school["uai"], school["name"],
                         _address(list(school.get("address_lines") or []), school.get("postal_code"),
                                  school.get("city_name")),
                         school.get("email") or "", school.get("phone") or "")  # fmt: skip


def signatory_from(school: dict[str, Any]) -> Signatory:
    # The confirmed director as the students reference knows them (user accounts come with the HTTP API).
    return Signatory(f"director:{school['uai']}", school.get("head_name") or "", "chef d'établissement",
                     datetime.now(PARIS))


def _common(row: dict[str, Any]) -> dict[str, Any]:
    return {"student": student_from(row["identity"]), "establishment": establishment_from(row["establishment"]),
            "signatory": signatory_from(row["establishment"]), "school_year": row["school_year"],
            "administrative_number": row["administrative_number"]}  # fmt: skip


def attribution_from(row: dict[str, Any], issued_on: date, version: int = 1) -> AttributionDecision:
    school, mef = row["establishment"], row["mef"]
    ministry = Ministry.parse(mef["ministry"])
    number = da_number(budget_prefix(ministry, school.get("contract_type_code") or "99"),
                       row["administrative_number"], row["school_year"], version)
    return AttributionDecision(
        **_common(row), training=Training(mef["code"], mef["label"], ministry),
        daily_rate_cents=row["daily_rate_cents"], yearly_cap_cents=row["yearly_cap_cents"],
        number=number, version=version, issued_on=issued_on,
    )


def abrogation_from(row: dict[str, Any], newer: SchoolingSpan, issued_on: date, version: int) -> Abrogation:
    """Abrogation of the schooling's current DA; the motives compare it with the newer schooling."""
    motives = abrogation_motives(mef_code=row["mef"]["code"], uai=row["establishment"]["uai"],
                                 newer_mef_code=newer.mef_code, newer_uai=newer.uai)
    return Abrogation(**_common(row), decision_number=row["decision_number"], motives=motives, version=version,
                      issued_on=issued_on)


def withdrawal_from(row: dict[str, Any], issued_on: date) -> Withdrawal:
    """Retrait of the schooling's current DA, which it names with its issue date."""
    return Withdrawal(**_common(row), decision_number=row["decision_number"],
                      decision_issued_on=row["decision_created_at"].astimezone(PARIS).date(), issued_on=issued_on)


def liquidation_from(
    row: dict[str, Any], pfmps: list[dict[str, Any]], programmes: Mapping[str, str], version: int
) -> LiquidationStatement:
    """One section per PFMP with a payment request, at the amount of its latest request (each PFMP row
    carries its stored `pfmp_number`). A section is dated at validation, a rectificative one when requested."""
    school, mef = row["establishment"], row["mef"]
    ministry = Ministry.parse(mef["ministry"])
    prefix = budget_prefix(ministry, school.get("contract_type_code") or "99")
    sections = tuple(
        LiquidationSection(
            pfmp_number=pfmp["pfmp_number"], start_date=pfmp["start_date"], end_date=pfmp["end_date"],
            amount_cents=pfmp["amount_cents"], rectificative=pfmp["status"] == "rectified",
            dated_on=(pfmp["validated_on"] if pfmp["validated_on"] and pfmp["status"] != "rectified"
                      else pfmp["requested_at"].astimezone(PARIS).date()),
        ) for pfmp in pfmps
    )  # fmt: skip
    return LiquidationStatement(
        **_common(row), decision_number=row["decision_number"], ministry=ministry,
        programme=programmes.get(prefix, str(prefix)),
        bank_account=BankAccount(row["iban"], row["bic"], row["holder_name"]), version=version, sections=sections,
    )


def number_and_version(doc: Document) -> tuple[str, int]:
    """The number a document is known by (the DA's for the other three) and its version."""
    match doc:
        case AttributionDecision():
            return doc.number, doc.version
        case Abrogation() | LiquidationStatement():
            return doc.decision_number, doc.version
        case Withdrawal():
            return doc.decision_number, 1  # a DA is withdrawn once


def object_key(doc: Document) -> str:
    """Internal ids and numbers only (documents.md §7): keys show up in tools and logs."""
    number, version = number_and_version(doc)
    name = number if isinstance(doc, AttributionDecision) else f"{number}-v{version}"
    return f"{doc.establishment.uai}/{doc.school_year}/{WIRE_KINDS[doc.kind]}/{name}.pdf"


_NOT_INPUT = frozenset({"signatory", "version"})
# What a DA's reissue changes by itself: its number (the version digit) and its issue date.
_DA_ISSUE = frozenset({"number", "issued_on"})


def input_hash(doc: Document) -> str:
    """What the document states, without the signature time and version (nor, for a DA, the number and issue
    date a reissue changes by itself): an identical reissue is skipped, so no version is wasted (§4)."""
    drop = _NOT_INPUT | _DA_ISSUE if isinstance(doc, AttributionDecision) else _NOT_INPUT
    content = {k: v for k, v in to_payload(doc)["content"].items() if k not in drop}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def content_hash(payload: dict[str, Any]) -> str:
    """sha256 of the frozen rendering input, as DocumentIssued announces it (canonical JSON)."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def layout_key(doc: Document) -> str | None:
    """Documents that share a laid-out page in the renderer (stamping.py) render together: a class's DAs (UAI,
    year, MEF), an establishment's états liquidatifs (UAI, year); the others one by one."""
    if isinstance(doc, AttributionDecision):
        return f"{doc.establishment.uai}|{doc.school_year}|{doc.training.mef_code}"
    if isinstance(doc, LiquidationStatement):
        return f"{doc.establishment.uai}|{doc.school_year}"
    return None
