"""The address-correction record of one PFMP (asp-exchange.md §4.9): the PFMP the ASP holds, under the id of its
latest payment request, with the three ASP ids, the student's identity, the Correction address and the bank block.

Pure. Two steps, so that an operator's wrong choice is refused before RNVP is asked anything:
`refusal_reasons` (the PFMP cannot be in a correction file at all: no ASP ids, data missing), then
`prepare_correction` with RNVP's answer for a student living in France (None: RNVP has nothing, the PFMP is
left out and reported). A student abroad gets CorrectionEtranger (= InduEtranger), RNVP is not asked.
"""

from __future__ import annotations

from aplypro_asp_gateway.domain import addresses, codes, communes, rnvp
from aplypro_asp_gateway.domain.model import AspIds, Blocked, CorrectionRecord, Parametrage, PendingRequest
from aplypro_asp_gateway.domain.readiness import bank_account, person_of

MISSING_ASP_IDS = "missing_asp_ids"  # never integrated: the ASP holds nothing to correct


def asp_ids_of(request: PendingRequest) -> AspIds | None:
    ids = request.asp_ids
    return ids if ids is not None and ids.dossier and ids.prestation else None


def lives_in_france(request: PendingRequest) -> bool:
    return request.student is not None and addresses.lives_in_france(request.student, []) is True


def refusal_reasons(request: PendingRequest, params: Parametrage) -> tuple[str, ...]:
    """Why this PFMP cannot be in a correction file whatever RNVP says; () when it can."""
    found = prepare_correction(request, params, None, ask_rnvp=False)
    return found.reasons if isinstance(found, Blocked) else ()


def prepare_correction(request: PendingRequest, params: Parametrage, answer: rnvp.RnvpAnswer | None, *,
                       ask_rnvp: bool = True) -> CorrectionRecord | Blocked:
    """The correction record, or every reason it cannot leave. `ask_rnvp=False`: the France address is not
    checked (RNVP not asked yet)."""
    reasons: list[str] = []
    ids = asp_ids_of(request)
    if ids is None:
        reasons.append(MISSING_ASP_IDS)
    person = address = account = None
    if request.student is None:
        reasons.append("missing_student_identity")
    else:
        person = person_of(request.student, reasons)
        in_france = addresses.lives_in_france(request.student, reasons)
        if in_france is False:
            address = addresses.indu_address(request.student, reasons)  # CorrectionEtranger (§4.4)
        elif in_france and ask_rnvp:
            if answer is None:
                reasons.append(rnvp.NOT_FOUND)
            else:
                address = rnvp.correction_france(answer, request.student.city_insee, reasons)
    if request.rib is None:
        reasons.append("missing_rib")
    else:
        account = bank_account(request.rib, reasons)
    if request.da_number is None:
        reasons.append("missing_attributive_decision")
    if request.schooling is None:
        reasons.append("missing_schooling")
        return Blocked(request.payment_request_id, tuple(dict.fromkeys(reasons)))
    cap = request.schooling.yearly_cap_cents
    engaged = 0
    try:
        engaged = codes.whole_euros(cap if cap is not None else request.amount_cents)  # MONTANTTOTALENGAGE
    except codes.CodeError as exc:
        reasons.append(exc.code)
    if reasons or not ask_rnvp:
        return Blocked(request.payment_request_id, tuple(dict.fromkeys(reasons)))
    # no reason appended: each block was built
    assert ids is not None
    assert person is not None
    assert address is not None
    assert account is not None
    assert request.da_number is not None
    return CorrectionRecord(
        record_id=request.record_id, payment_request_id=request.payment_request_id, pfmp_id=request.pfmp_id,
        person=person, address=communes.with_exceptions(address, params.commune_exceptions),
        da_number=request.da_number,
        # The PFMP number its first record carried: it never changes (§4.3).
        pfmp_number=request.pfmp_number_sent or codes.pfmp_number(request.da_number, request.pfmp_rank),
        department=codes.department(request.schooling.uai), engaged_euros=engaged, bank=account, asp_ids=ids)
