"""The errors dictionary of asp-exchange.md §6: every ASP motif and code gets its stable key and French words."""

from __future__ import annotations

import pytest
from aplypro_asp_gateway.domain.asp_errors import (
    LINE_FAULTS,
    PAYMENT_FAILURES,
    REJECT_PATTERNS,
    all_reasons,
    classify_payment_failure,
    classify_recovery_failure,
    classify_reject,
)

# One realistic motif per §6.1 row, `(.*)` filled as the ASP would, in table order.
MOTIFS = [
    ("Coord. paiement bloquees", "payment_coordinates_blocked"),
    ("La commune de naissance sélectionnée n'existait pas à la date de naissance de l'individu",
     "birth_commune_not_found"),
    ("Le code Insee commune de l'entité individu 97127 est périmé.", "outdated_insee_code"),
    ("Le code saisi 34999 n'existe pas dans le LOCALISATIONGEOGRAPHIQUE", "localisationgeographique_not_found"),
    ("Le code saisi 99999 n'existe pas dans le referentiel refinseepays", "refinseepays_not_found"),
    ("Les codes saisis 30006/00001 n existent pas dans le referentiel refdombancaire ou ne sont pas actifs à "
     "cette date", "refdombancaire_not_found"),
    ("Le code saisi 34000/75056 n'existe pas dans le dictionnaire des referentiels", "inconsistent_address"),
    ("Le pays correspondant au code BIC BKCHCNBJ n'autorise pas le mode de réglement SEPA", "bic_sepa_not_allowed"),
    ("L'IBAN ne fait pas partie de la zone SEPA.", "iban_sepa_not_allowed"),
    ("Le RIB FR7630006000011234567890189 est Invalide", "invalid_rib"),
    ("Les caractères autorisés pour l'intitulé SEPA sont limités à l'alphabet latin, aux chiffres, au caractère "
     "espace et aux caractères suivants : / - ? : ( ) . , ' +", "invalid_characters"),
    ("La coordonnée de paiement est invalide", "invalid_payment_coordinates"),
    ("Les codes saisis 34270/34240 de la table REFHEXAPOSTE correspondent à un lieu-dit", "hamlet"),
    ("java.lang.StringIndexOutOfBoundsException: begin 4, end 6, length 5", "bic_length"),
    ("Le numéro administratif ENPUA1B2C3D4E520250 n'est pas unique", "numadm_not_unique"),
]


@pytest.mark.parametrize(("motif", "key"), MOTIFS)
def test_each_reject_motif_of_the_dictionary_gets_its_key(motif: str, key: str) -> None:
    assert classify_reject(motif).key == key


def test_every_reject_pattern_is_covered_by_a_motif_above() -> None:
    assert [reason.key for _, reason in REJECT_PATTERNS] == [key for _, key in MOTIFS]


def test_whitespace_runs_are_collapsed_before_matching() -> None:
    assert classify_reject("  L'IBAN ne fait   pas partie de la\tzone SEPA.\n").key == "iban_sepa_not_allowed"


@pytest.mark.parametrize("motif", [None, "", "   ", "Erreur technique inconnue", "coord. paiement bloquees"])
def test_no_motif_an_unknown_one_or_another_case_falls_back(motif: str | None) -> None:
    reason = classify_reject(motif)

    assert (reason.key, reason.resubmit_on_fix) == ("fallback_message", False)  # needs a director's relaunch


def test_known_school_reasons_are_resubmitted_on_a_fix_and_numadm_goes_to_operators() -> None:
    school = [classify_reject(m) for m, key in MOTIFS if key != "numadm_not_unique"]
    numadm = classify_reject(MOTIFS[-1][0])

    assert all(r.resubmit_on_fix and r.audience == "school" for r in school)
    assert (numadm.audience, numadm.resubmit_on_fix) == ("operators", False)


def test_the_words_never_repeat_what_the_asp_quoted() -> None:
    reason = classify_reject("Le RIB FR7630006000011234567890189 est Invalide")

    assert "FR76" not in reason.line()


@pytest.mark.parametrize(("code", "key"), [
    ("ICO", "previous_bank_rejection"), ("IDR", "anomaly_detected"), ("INR", "processing_control"),
    ("IPR", "control_anomaly"), ("RJT", "payment_difficulty"), ("SFR", "fraud_suspicion"),
    ("IAL", "fallback_message"), ("", "fallback_message"), (None, "fallback_message"), (" RJT ", "payment_difficulty"),
])
def test_each_payment_failure_code_gets_its_key(code: str | None, key: str) -> None:
    assert classify_payment_failure(code).key == key


def test_the_six_documented_payment_codes_are_all_mapped() -> None:
    assert set(PAYMENT_FAILURES) == {"ICO", "IDR", "INR", "IPR", "RJT", "SFR"}


def test_a_recovery_order_refused_for_death_has_its_key_and_others_fall_back() -> None:
    assert classify_recovery_failure("C1").key == "beneficiary_deceased"
    assert classify_recovery_failure("C7").key == "fallback_message"


def test_every_reason_has_french_words_and_something_to_do() -> None:
    for reason in all_reasons():
        assert reason.words
        assert reason.todo
        assert reason.line().startswith(f"{reason.key}: ")
    assert all(reason.audience == "operators" for reason in LINE_FAULTS.values())
