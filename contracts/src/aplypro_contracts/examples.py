"""One valid example of every contract: the fixtures are written from it, tests use it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import aplypro_contracts as c

S, ST, P, R = (uuid.UUID(int=i) for i in (1, 2, 3, 4))
WHEN = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)
BASE = {"event_id": uuid.UUID(int=99), "occurred_at": WHEN, "correlation_id": uuid.UUID(int=98)}
PFMP = c.PfmpState(pfmp_id=P, schooling_id=S, student_id=ST, start_date=date(2025, 11, 3),
                   end_date=date(2025, 11, 21), day_count=15, status="validated", created_seq=7, rank=1,
                   version=2)
MEF = c.Mef(code="2473121133", dispositif="247", diploma="40025510", duration=3, year=3,
            label="BAC PRO METIERS DE L'ELECTRICITE", ministry="MENJ")
IDENTITY = c.Identity(ine="000111223AB", last_name="HADDAD", first_names=("Mehdi",), birth_date=date(2007, 11, 2))
SCHOOLING = {"establishment": c.Establishment(uai="0999001K", name="LP Jean Jaurès"), "class_label": "TLE PRO MELEC",
             "school_year": 2025, "mef": MEF, "start_date": date(2025, 9, 1)}


def examples() -> list[c.Envelope]:
    return [
        c.StudentRegistered(producer="students", student_id=ST, version=1, **BASE, identity=IDENTITY),
        c.StudentIdentityChanged(producer="students", student_id=ST, version=2, changed=("last_name",), **BASE,
                                 identity=IDENTITY),
        c.StudentAddressChanged(producer="students", student_id=ST, version=3, changed=("address",), **BASE,
                                identity=IDENTITY.model_copy(update={"address": c.Address(
                                    lines=("3 rue des Lilas",), postal_code="35000", city_insee="35238",
                                    city_name="Rennes")})),
        c.SchoolingOpened(producer="students", schooling_id=S, student_id=ST, version=1, **BASE, **SCHOOLING),
        c.SchoolingChanged(producer="students", schooling_id=S, student_id=ST, version=2, changed=("start_date",),
                           **BASE, **SCHOOLING),
        c.SchoolingClosed(producer="students", schooling_id=S, student_id=ST, version=3, **BASE,
                          **{**SCHOOLING, "end_date": date(2026, 2, 13)}, end_date_inferred=False),
        c.SchoolingReopened(producer="students", schooling_id=S, student_id=ST, version=4, **BASE, **SCHOOLING),
        c.RibRecorded(producer="students", rib_id=R, student_id=ST, establishment_uai="0999001K", version=1, **BASE,
                        owner_type="personal", holder_name="HADDAD MEHDI",
                        iban="FR7630006000011234567890189", bic="AGRIFRPP"),
        c.PfmpRecorded(producer="pfmp", pfmp=PFMP, **BASE),
        c.PfmpValidated(producer="pfmp", pfmp=PFMP, **BASE),
        c.DecisionWithdrawalRequestedV1(producer="pfmp", schooling_id=S, student_id=ST, reason="never_attended",
                                        requested_by="user-42", **BASE),
        c.DecisionIssueRequestedV1(producer="pfmp", schooling_id=S, student_id=ST, mode="reissue",
                                   requested_by="user-42", **BASE),
        c.DecisionAbrogationRequestedV1(producer="pfmp", schooling_id=S, student_id=ST, requested_by="user-42",
                                        **BASE),
        c.LiquidationIssueRequestedV1(producer="pfmp", schooling_id=S, student_id=ST, requested_by="user-43",
                                      **BASE),
        c.PfmpRectified(producer="pfmp", pfmp=PFMP.model_copy(update={"status": "rectified", "day_count": 5,
                                                                         "version": 3}),
                          initiated_by="user", requested_by="user-42", **BASE),
        c.PaymentRetryRequestedV1(producer="pfmp", pfmp_id=P, student_id=ST, payment_request_id=R,
                                  requested_by="user-42", reason="bank_details_corrected", **BASE),
        c.SchoolingExtendedV1(producer="pfmp", schooling_id=S, student_id=ST, extended_end_date=date(2026, 9, 15),
                              version=1, requested_by="user-42", **BASE),
        c.PaymentRequestBlocked(producer="calculator", payment_request_id=R, pfmp_id=P, student_id=ST, version=1,
                                  reasons=("negative_rectification",), parked=True, **BASE),
        c.RectificationComputedV1(producer="calculator", pfmp_id=P, student_id=ST, base_cents=30000,
                                  new_cents=10000, difference_cents=-20000, outcome="recovery", parked=True,
                                  payment_request_id=R, **BASE),
        c.PaymentRequestStateChanged(producer="asp-gateway", payment_request_id=R, pfmp_id=P, student_id=ST, version=3,
                                       state="paid", paid_amount=Decimal("300.00"), **BASE),
        c.PaymentRequestStateChanged(producer="asp-gateway", payment_request_id=R, pfmp_id=P, student_id=ST, version=1,
                                     state="ready", rib_id=R, **BASE),
        c.SchoolingPricedV1(producer="calculator", schooling_id=S, student_id=ST, school_year=2025, priced=True,
                            daily_rate_cents=2000, yearly_cap_cents=100000, legal_reference="arrêté", **BASE),
        c.AmountComputedV1(producer="calculator", pfmp_id=P, schooling_id=S, student_id=ST, school_year=2025,
                           mef_code="2473121133", day_count=15, amount_cents=30000, **BASE),
        c.PaymentRequested(producer="calculator", payment_request_id=R, pfmp_id=P, schooling_id=S, version=2,
                             student_id=ST, amount_cents=30000, day_count=15, pfmp_rank=1, **BASE),
        c.DocumentIssuedV1(producer="documents", document_id=R, kind="attribution", schooling_id=S,
                           student_id=ST, number="ENPUK7Q2M9X4TB20251", version=1, content_sha256="0" * 64, **BASE),
        c.DocumentReadyV1(producer="documents", document_id=R, kind="attribution", schooling_id=S,
                          student_id=ST, number="ENPUK7Q2M9X4TB20251", version=1, storage_ref="a/b.pdf",
                          sha256="0" * 64, size_bytes=1000, **BASE),
        c.DocumentReadyV1(producer="documents", document_id=R, kind="liquidation", schooling_id=S,
                          student_id=ST, number="ENPUK7Q2M9X4TB20251", version=1, storage_ref="a/c.pdf",
                          sha256="0" * 64, size_bytes=1000,
                          pfmp_numbers=(c.PfmpNumber(pfmp_id=P, number="ENPUK7Q2M9X4TB2025101"),), **BASE),
        c.PaymentRequestSent(producer="asp-gateway", payment_request_id=R, pfmp_id=P, student_id=ST, version=1,
                               amount_cents=30000, file_name="nps_ficimport_idp_x_20260101000000.xml", rib_id=R,
                               **BASE),
        c.RibOnFile(producer="students", rib_id=R, student_id=ST, establishment_uai="0999001K", version=1,
                    owner_type="personal", **BASE),
        c.RibArchived(producer="students", rib_id=R, student_id=ST, establishment_uai="0999001K", version=1, **BASE),
        c.RibStatusChanged(producer="students", student_id=ST, establishment_uai="0999001K", has_active_rib=True,
                           rib_id=R, owner_type="personal", version=2, **BASE),
        c.PaymentRequestHeld(producer="asp-gateway", payment_request_id=R, pfmp_id=P, student_id=ST, version=1,
                             reasons=("ine_not_found", "missing_rib"), **BASE),
        c.PaymentRequestsMoved(producer="asp-gateway", file_name="ASP_APLYPRO_20260115_083000.xml", requests=(
            c.MovedRequest(payment_request_id=R, pfmp_id=P, student_id=ST, version=2, state="sent",
                           amount_cents=30000, rib_id=S, correlation_id=uuid.UUID(int=98)),
            c.MovedRequest(payment_request_id=uuid.UUID(int=5), pfmp_id=uuid.UUID(int=6), student_id=ST, version=4,
                           state="paid", paid_amount=Decimal("150.00"), rib_id=S, correlation_id=uuid.UUID(int=97),
                           causation_id=uuid.UUID(int=96))), **BASE),
        c.StudentIneStatusChanged(producer="students", student_id=ST, ine_status="not_found", version=1, **BASE),
        c.SchoolingHiddenChanged(producer="students", schooling_id=S, student_id=ST, hidden=True, version=1, **BASE),
        c.EstablishmentRegistered(producer="students", uai="0999001K", name="LP Jean Jaurès", ministry="MENJ",
                                  academy_code="14", contract_type_code="99", **BASE),
        c.StudentsMerged(producer="students", survivor_id=ST, merged_id=R, version=1, **BASE),
        c.ExclusionChanged(producer="students", uai="0999001K", mef_code="2473111533", school_year=2025,
                           excluded=True, version=1, **BASE),
    ]
