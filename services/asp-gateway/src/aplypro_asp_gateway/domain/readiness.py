"""Readiness of one pending request: either the record to send, or every reason it is blocked (§6.3, §7).

A first payment by default; with a `Modification` (the ASP ids returned at integration and what the ASP
paid so far) the record modifies the prestation instead (§8.1): ids, new total, Indu address.
"""

from __future__ import annotations

from aplypro_asp_gateway.domain import addresses, bank, codes, communes, owner, text
from aplypro_asp_gateway.domain.model import (
    BankAccount,
    Blocked,
    Parametrage,
    PaymentRecord,
    PendingRequest,
    Person,
    Rib,
    Schooling,
    Student,
)
from aplypro_asp_gateway.domain.rectification import (
    Modification,
    is_rectification,
    is_relaunch,
    relaunch_waiting,
    waiting_reason,
)

__all__ = ["Modification", "bank_account", "person_of", "prepare"]

_TITLES = {"female": "MME", "male": "M"}
_DA_LENGTHS = range(18, 20)  # the ASP accepts 18–19 characters: ARMEE (20) and MENJ_OTHER (25) are refused
_DA_TAIL = 15  # after the prefix: administrative number (10), start year (4), version (1) (documents.md §4)


def prepare(request: PendingRequest, params: Parametrage,
            modification: Modification | None = None) -> PaymentRecord | Blocked:
    """All checks run and all failures are kept, so a school sees every fix at once."""
    reasons: list[str] = []
    person = address = account = None
    if modification is None:
        _first_payment(request, reasons)
    _owners_facts(request, reasons)
    if request.student is None:
        reasons.append("missing_student_identity")  # the students service's event has not arrived yet
    else:
        if _has_invalid_characters(request.student):
            reasons.append("invalid_characters")  # fixed by a new StudentRegistered, which re-checks the request
        person = person_of(request.student, reasons)
        # A modification carries the Indu address (§8.1: a recovery order may follow); a relaunch recovers nothing.
        address = (addresses.payment_address(request.student, request.schooling, reasons)
                   if modification is None or modification.relaunch
                   else addresses.indu_address(request.student, reasons))
    if request.rib is None:
        reasons.append("missing_rib")
    else:
        account = bank_account(request.rib, reasons)
        if request.rib_rejected:
            # The calculator retries on the new RIB's event, which may reach us after the retry: wait for it.
            reasons.append("rib_rejected_by_asp")
        if request.student is not None and owner.wrong_owner_for_adult(
                request.student.birth_date, request.rib.owner_type, owner.check_date(request)):
            reasons.append("adult_wrong_owner_type")
    amount = _euros(request.amount_cents, reasons)
    variant = "first_payment"
    if (modification is None or modification.relaunch) and amount == 0:
        reasons.append("pfmp_amount")  # 0 is only sendable on a rectification, not on a first payment
    elif modification is not None and amount is not None:
        variant = "relaunch" if modification.relaunch else _variant(amount, modification, params, reasons)
    da_number = _da_number(request, reasons)
    if request.schooling is None:
        reasons.append("missing_schooling")
        return Blocked(request.payment_request_id, _unique(reasons))
    schooling = request.schooling
    unite = _programme(schooling, params, reasons)
    engaged = amount if schooling.yearly_cap_cents is None else _euros(schooling.yearly_cap_cents, reasons)
    if (reasons or person is None or address is None or account is None or request.rib is None
            or unite is None or amount is None or engaged is None or da_number is None):
        return Blocked(request.payment_request_id, _unique(reasons))
    return PaymentRecord(
        record_id=request.record_id, payment_request_id=request.payment_request_id, pfmp_id=request.pfmp_id,
        rib_id=request.rib.rib_id,
        person=person, address=communes.with_exceptions(address, params.commune_exceptions),
        da_number=da_number, pfmp_number=_pfmp_number(request, da_number),
        department=codes.department(schooling.uai),
        engaged_euros=engaged, amount_euros=amount, unite_suivi=unite, bank=account,
        asp_ids=modification.asp_ids if modification else None, variant=variant,
        student_id=request.student_id, schooling_id=request.schooling_id,
    )


def _variant(new_total: int, modification: Modification, params: Parametrage, reasons: list[str]) -> str:
    """The new total against what the ASP paid (§8.1): the ASP pays the difference or issues a recovery order."""
    paid = modification.paid_cents
    if new_total * 100 == paid:
        reasons.append("rectification_without_change")  # nothing for the ASP to pay or recover
    if new_total * 100 >= paid:
        return "rectification_up"
    if params.negative_rectification_blocked:
        reasons.append("negative_rectification")  # parked while the ASP asks for it (§8.2)
    return "cancellation" if new_total == 0 else "rectification_down"


def _first_payment(request: PendingRequest, reasons: list[str]) -> None:
    """A record without a Modification is a first payment (no prestation id): one per PFMP across all files ever
    built. A rectification of a PFMP already sent never leaves as one: it waits for the ASP's answers (§8.1)."""
    if is_rectification(request):
        reasons.append(waiting_reason(request) or "rectification_not_supported")
    elif is_relaunch(request):
        reasons.append(relaunch_waiting(request) or "already_paid_first")
    elif request.first_payment_sent:
        reasons.append("already_paid_first")


def _owners_facts(request: PendingRequest, reasons: list[str]) -> None:
    """Gates on facts other services publish (lifecycles.md §4 #2 and #15, and §3 "remove")."""
    if request.ine_not_found:
        reasons.append("ine_not_found")  # lifted when the students service finds the INE again
    # A retrait after the calculator handed the request over: held back here. A rectification to 0 is the
    # retrait's own recovery (calculation.md §5.5): it pays nothing, so it goes on.
    recovery = request.rectification and request.amount_cents == 0
    if request.decision_withdrawn and not recovery:
        reasons.append("attributive_decision_cancelled")
    # Hidden (or retracted) after the calculator handed the request over: held back here, never sent silently;
    # released if staff reintegrate the schooling. A recovery pays nothing: it goes on.
    if request.schooling_hidden and not recovery:
        reasons.append("hidden_schooling")


def _has_invalid_characters(student: Student) -> bool:
    """Text the file carries from the student: names (transliterated, which keeps ASCII controls) and codes
    (verbatim)."""
    values = (student.last_name, *student.first_names, student.birth_city_insee, student.birth_country_insee,
              student.postal_code, student.city_insee, student.country_insee)
    return any(text.has_control_characters(v) for v in values if v)


def _unique(reasons: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reasons))


def _euros(cents: int, reasons: list[str]) -> int | None:
    try:
        return codes.whole_euros(cents)
    except codes.CodeError as exc:
        reasons.append(exc.code)
        return None


def person_of(student: Student, reasons: list[str]) -> Person | None:
    title = _TITLES.get(student.sex)
    if title is None:
        reasons.append("missing_biological_sex")
    country = commune = None
    if not (student.birth_country_insee or "").strip():
        reasons.append("missing_birthplace_country_insee_code")
    else:
        try:
            country = codes.insee_country(student.birth_country_insee or "")
        except codes.CodeError as exc:
            unusable = exc.code == "unusable_country_code"
            reasons.append("unusable_birthplace_country_insee_code" if unusable else exc.code)
    if country == codes.FRANCE:
        if not (student.birth_city_insee or "").strip():
            reasons.append("missing_birthplace_city_insee_code")
        else:
            commune = codes.birth_commune((student.birth_city_insee or "").strip(), student.birth_date)
    last_name = text.file_name_field(student.last_name, text.NAME_LIMITS["NOMUSAGE"])
    first_names = text.first_names_field(student.first_names)
    if not last_name or not first_names:
        reasons.append("missing_name")
    if title is None or country is None:
        return None
    return Person(title=title, first_names=first_names, last_name=last_name, birth_date=student.birth_date,
                  birth_country=country, birth_commune=commune)


def bank_account(rib: Rib, reasons: list[str]) -> BankAccount | None:
    holder = text.holder_name(rib.holder_name)
    if not (bank.iban_is_valid(rib.iban) and bank.bic_is_valid(rib.bic) and holder):
        reasons.append("rib")
        return None
    parts = bank.split_iban(rib.iban)
    return BankAccount(holder=holder, bic=bank.asp_bic(rib.bic, rib.iban), country=parts.country,
                       check_digits=parts.check_digits, bban=parts.bban)


def _da_number(request: PendingRequest, reasons: list[str]) -> str | None:
    """DOSSIER/NUMADM: the schooling's latest DA number as the documents service printed it (documents.md §4),
    never recomputed here. None (blocked) until its DocumentIssued (the DA's issue, not its PDF) arrives: the
    request is checked again then."""
    if request.da_number is None:
        reasons.append("missing_attributive_decision")
        return None
    if len(request.da_number) not in _DA_LENGTHS:
        reasons.append("da_number_length")
    return request.da_number


def _pfmp_number(request: PendingRequest, da_number: str) -> str:
    """PRESTADOSS/NUMADM (§4.3): never renumbered once sent (the ASP holds the prestation under it, a later
    request of the PFMP carries its first record's number); else the number its état liquidatif printed, exactly;
    else, only while no état liquidatif announced one, the DA current now + the PFMP's rank (documents.md §4's
    rule, which gives the printed number unless the DA is reissued before the état liquidatif)."""
    if request.pfmp_number_sent is not None:
        return request.pfmp_number_sent
    if request.pfmp_number_printed is not None:
        return request.pfmp_number_printed
    return codes.pfmp_number(da_number, request.pfmp_rank)


def _programme(schooling: Schooling, params: Parametrage, reasons: list[str]) -> str | None:
    """The unité de suivi, given by the schooling's budget programme (§4.5)."""
    if schooling.status != "student":
        reasons.append("student_type")  # apprentices and others are not eligible
    try:
        bop = codes.budget_programme(schooling.mef_ministry, schooling.contract_type_code)
    except codes.CodeError as exc:
        reasons.append(exc.code)
        return None
    if bop in params.funding_off:
        reasons.append("funding_unavailable")  # parking: released when the programme is funded again
    unite = params.unites_suivi.get(bop)
    if not unite:
        reasons.append("bop_without_unite_suivi")
    if len(codes.da_prefix(bop)) + _DA_TAIL not in _DA_LENGTHS:
        # ARMEE, MENJ_OTHER: the documents service issues no DA for them (unsupported_budget_prefix); the true
        # reason, not a DA that will never come.
        reasons.append("da_number_length")
    return unite
