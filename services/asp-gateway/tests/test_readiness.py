"""Which pending requests can go into a file, and every reason the others are blocked (§6.3, §7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from aplypro_asp_gateway.domain.model import Blocked, Parametrage, PaymentRecord, PendingRequest
from aplypro_asp_gateway.domain.readiness import prepare

MakeRequest = Callable[..., PendingRequest]


def reasons_of(outcome: PaymentRecord | Blocked) -> tuple[str, ...]:
    assert isinstance(outcome, Blocked), outcome
    return outcome.reasons


def test_a_complete_request_becomes_a_record_with_the_file_values(
    make_request: MakeRequest, params: Parametrage
) -> None:
    request = make_request()
    record = prepare(request, params)
    assert isinstance(record, PaymentRecord)
    assert (record.person.title, record.person.first_names, record.person.last_name) == (
        "MME", "Lea, Marie, Anne", "Dupre")
    assert (record.amount_euros, record.engaged_euros, record.unite_suivi) == (300, 600, "USMENJPUB")
    assert (record.bank.bic, record.bank.holder) == ("AGRIFRPP", "Mme Lea Dupre")
    assert request.rib is not None
    assert record.rib_id == request.rib.rib_id  # the RIB used is frozen on the request
    assert record.department == "034"


def test_without_a_known_cap_the_engaged_amount_is_the_amount(make_request: MakeRequest,
                                                              params: Parametrage) -> None:
    request = make_request()
    assert request.schooling is not None
    record = prepare(replace(request, schooling=replace(request.schooling, yearly_cap_cents=None)), params)
    assert isinstance(record, PaymentRecord)
    assert record.engaged_euros == record.amount_euros == 300


def test_a_request_without_rib_is_blocked_with_missing_rib(make_request: MakeRequest, params: Parametrage) -> None:
    assert reasons_of(prepare(make_request(rib=None), params)) == ("missing_rib",)


def test_a_request_whose_data_has_not_arrived_names_each_missing_part(
    make_request: MakeRequest, params: Parametrage
) -> None:
    outcome = prepare(make_request(student=None, schooling=None, rib=None), params)
    assert reasons_of(outcome) == ("missing_student_identity", "missing_rib", "missing_schooling")


def test_every_identity_problem_is_reported_at_once(make_request: MakeRequest, params: Parametrage) -> None:
    student = make_request().student
    assert student is not None
    broken = replace(student, sex="unknown", birth_city_insee=None, postal_code=" ", city_insee=None)
    assert reasons_of(prepare(make_request(student=broken), params)) == (
        "missing_biological_sex", "missing_birthplace_city_insee_code", "missing_address_postal_code",
        "missing_address_city_insee_code")


def test_a_student_known_only_from_the_sygne_list_is_blocked_until_the_detail_arrives(
    make_request: MakeRequest, params: Parametrage
) -> None:
    """import-all defers SYGNE's detail (birthplace, address) to a background lane (imports.md §9): until then
    the student has the list's identity only, and nothing may be paid; once the detail arrives, it is."""
    student = make_request().student
    assert student is not None
    listed = replace(student, birth_city_insee=None, birth_country_insee=None, postal_code=None, city_insee=None,
                     country_insee=None, address_lines=(), city_name=None)
    assert reasons_of(prepare(make_request(student=listed), params)) == (
        "missing_birthplace_country_insee_code", "missing_address_country_code")
    assert isinstance(prepare(make_request(student=student), params), PaymentRecord)


def test_birth_country_codes_that_cannot_be_sent_block(make_request: MakeRequest, params: Parametrage) -> None:
    student = make_request().student
    assert student is not None
    for code, reason in (("990", "unusable_birthplace_country_insee_code"), (None, "missing_birthplace_country_insee_code"),
                         ("1000", "malformed_country_code")):
        blocked = prepare(make_request(student=replace(student, birth_country_insee=code)), params)
        assert reasons_of(blocked) == (reason,)


def test_a_student_born_abroad_sends_no_birth_commune(make_request: MakeRequest, params: Parametrage) -> None:
    student = make_request().student
    assert student is not None
    record = prepare(make_request(student=replace(student, birth_country_insee="350", birth_city_insee=None)),
                     params)
    assert isinstance(record, PaymentRecord)
    assert (record.person.birth_country, record.person.birth_commune) == ("99350", None)


def test_a_student_living_abroad_is_blocked_until_the_establishment_commune_is_known(
    make_request: MakeRequest, params: Parametrage
) -> None:
    student = make_request().student
    assert student is not None
    outcome = prepare(make_request(student=replace(student, country_insee="99140")), params)
    assert reasons_of(outcome) == ("missing_establishment_city_insee_code", "missing_establishment_postal_code")


def test_an_address_without_country_code_is_blocked(make_request: MakeRequest, params: Parametrage) -> None:
    student = make_request().student
    assert student is not None
    for empty in (None, " "):
        outcome = prepare(make_request(student=replace(student, country_insee=empty)), params)
        assert reasons_of(outcome) == ("missing_address_country_code",)


def test_amounts_of_zero_or_with_cents_block(make_request: MakeRequest, params: Parametrage) -> None:
    assert reasons_of(prepare(make_request(amount_cents=0), params)) == ("pfmp_amount",)
    assert reasons_of(prepare(make_request(amount_cents=30050), params)) == ("pfmp_amount",)


def test_bad_bank_details_block_with_rib(make_request: MakeRequest, params: Parametrage) -> None:
    rib = make_request().rib
    assert rib is not None
    for broken in (replace(rib, iban="FR7630006000011234567890188"), replace(rib, bic="AGRIFR0P"),
                   replace(rib, holder_name="李小龍")):
        assert reasons_of(prepare(make_request(rib=broken), params)) == ("rib",)


def test_programme_rules_block_only_that_record(make_request: MakeRequest, params: Parametrage) -> None:
    schooling = make_request().schooling
    assert schooling is not None
    cases = {
        replace(schooling, status="apprentice"): ("student_type",),
        replace(schooling, contract_type_code="50"): ("bop_without_unite_suivi", "da_number_length"),
        replace(schooling, mef_ministry="SANTE"): ("unknown_budget_programme",),
    }
    for changed, reasons in cases.items():
        assert reasons_of(prepare(make_request(schooling=changed), params)) == reasons


def test_a_private_school_under_contract_uses_its_own_unite_de_suivi(
    make_request: MakeRequest, params: Parametrage
) -> None:
    schooling = make_request().schooling
    assert schooling is not None
    record = prepare(make_request(schooling=replace(schooling, contract_type_code="31"),
                                  da_number="ENPRZ9Y8X7W6V520251"), params)
    assert isinstance(record, PaymentRecord)
    assert record.unite_suivi == "USMENJPRIV"
    assert record.da_number == "ENPRZ9Y8X7W6V520251"  # the documents service's number, as printed
