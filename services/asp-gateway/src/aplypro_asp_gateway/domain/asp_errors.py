"""The ASP's errors dictionary (asp-exchange.md §6): each reject motif, payment-failure code or recovery-order
motif the ASP sends becomes a stable key with French words for the school, plus the faults a return line
itself can have (an unknown `ETATPAIEMENT`, a missing key...).

The keys are what events and tables carry; the ASP's own text (which may quote an IBAN or a name) is kept
with the line, never in the key or the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Audience = Literal["school", "operators"]


@dataclass(frozen=True)
class AspReason:
    key: str  # stable: stored, put in events, counted in metrics
    words: str  # what happened, in French, as the school (or the operator) reads it
    todo: str  # what to do, in French
    audience: Audience = "school"
    resubmit_on_fix: bool = False  # §6.1: re-submitted automatically when the RIB or the address changes

    def line(self) -> str:
        return f"{self.key}: {self.words}. À faire : {self.todo}."


def _school(key: str, words: str, todo: str, resubmit: bool = True) -> AspReason:
    return AspReason(key, words, todo, "school", resubmit)


FALLBACK = AspReason(
    "fallback_message", "problème inattendu signalé par l'ASP",
    "contacter le support, qui lira le motif de l'ASP ; relancer une fois corrigé", "school", False)

_CHECK_RIB = "vérifier puis ressaisir les coordonnées bancaires"
_FIX_ADDRESS = "corriger l'adresse de l'élève"
_SEPA = "utiliser un compte d'un pays de la zone SEPA"

# §6.1, tried in this order with re.search on the whitespace-collapsed motif; the patterns are the ASP's
# byte for byte (their `.` and `(.*)` are regular-expression syntax, as in the existing system).
REJECT_PATTERNS: tuple[tuple[re.Pattern[str], AspReason], ...] = tuple((re.compile(p), r) for p, r in (
    (r"Coord. paiement bloquees", _school(
        "payment_coordinates_blocked", "un premier paiement a échoué : l'ASP a bloqué ces coordonnées bancaires",
        "attendre que l'ASP contacte l'établissement et les débloque, puis relancer")),
    (r"La commune de naissance sélectionnée n'existait pas à la date de naissance de l'individu", _school(
        "birth_commune_not_found", "la commune de naissance n'existait pas à la date de naissance",
        "la corriger dans la fiche source de l'élève")),
    (r"Le code Insee commune de l'entité individu (.*)est périmé.", _school(
        "outdated_insee_code", "le code INSEE de la commune de résidence n'existe plus",
        "mettre à jour l'adresse de l'élève")),
    (r"Le code saisi (.*) n'existe pas dans le LOCALISATIONGEOGRAPHIQUE", _school(
        "localisationgeographique_not_found", "le code postal ou le code INSEE de résidence n'existe pas",
        _FIX_ADDRESS)),
    (r"Le code saisi (.*) n'existe pas dans le referentiel refinseepays", _school(
        "refinseepays_not_found", "le code du pays de résidence n'existe pas", "corriger le pays de résidence")),
    (r"Les codes saisis (.*) n existent pas dans le referentiel refdombancaire ou ne sont pas actifs à cette "
     r"date", _school(
        "refdombancaire_not_found", "aucune agence bancaire active ne correspond à ces coordonnées",
        "vérifier l'IBAN et le BIC avec la famille")),
    (r"Le code saisi (.*) n'existe pas dans le dictionnaire des referentiels", _school(
        "inconsistent_address", "le code INSEE et le code postal de l'adresse ne concordent pas", _FIX_ADDRESS)),
    (r"Le pays correspondant au code BIC (.*) n'autorise pas le mode de réglement SEPA", _school(
        "bic_sepa_not_allowed", "le pays du BIC n'accepte pas les virements SEPA", _SEPA)),
    (r"L'IBAN ne fait pas partie de la zone SEPA.", _school(
        "iban_sepa_not_allowed", "l'IBAN n'appartient pas à la zone SEPA", _SEPA)),
    (r"Le RIB (.*) est Invalide", _school("invalid_rib", "les coordonnées bancaires sont invalides", _CHECK_RIB)),
    (r"Les caractères autorisés pour l'intitulé SEPA sont limités à l'alphabet latin, aux chiffres, au "
     r"caractère espace et aux caractères suivants(.*)", _school(
        "invalid_characters", "le titulaire du compte contient des caractères refusés",
        "le ressaisir avec des lettres latines, chiffres, espaces et / - ? : ( ) . , ' + seulement")),
    (r"La coordonnée de paiement est invalide", _school(
        "invalid_payment_coordinates", "les coordonnées bancaires sont invalides", _CHECK_RIB)),
    (r"Les codes saisis (.*) de la table REFHEXAPOSTE correspondent à un lieu-dit", _school(
        "hamlet", "les codes de l'adresse désignent un lieu-dit",
        "corriger la commune ou le code postal de l'adresse")),
    (r"begin 4, end 6, length 5", _school(
        "bic_length", "le BIC ne peut pas être interprété", "vérifier puis ressaisir le BIC")),
    # Observed, not in the ASP's dictionary (§6.1, §4.3): our file's fault, not the school's.
    (r"Le numéro administratif (.*) n'est pas unique", AspReason(
        "numadm_not_unique", "l'ASP connaît déjà ce numéro administratif (décision d'attribution)",
        "rien à l'établissement : les opérateurs regroupent les envois du dossier", "operators", False)),
))

# Rejections of the account itself, final for that RIB: sent again, it would be refused again (readiness:
# rib_rejected_by_asp). Not the ones a school may cure without new bank details: coordinates the ASP blocked and
# then unblocks (payment_coordinates_blocked: relaunch once unblocked, §6.1), a bank branch not active at that date
# (refdombancaire_not_found), a BIC we may have formatted (bic_length).
BANK_REJECTIONS: frozenset[str] = frozenset({
    "invalid_rib", "invalid_payment_coordinates", "iban_sepa_not_allowed", "bic_sepa_not_allowed",
    "invalid_characters"})

_WAIT_ASP = "attendre les instructions de l'ASP"
# §6.2: no automatic retry after `unpaid`; a director creates a new request once the cause is fixed.
PAYMENT_FAILURES: dict[str, AspReason] = {code: AspReason(key, words, todo) for code, key, words, todo in (
    ("ICO", "previous_bank_rejection", "coordonnées bancaires bloquées (rejet bancaire antérieur en cours ou "
     "suspicion de fraude)", "attendre le contact de l'ASP"),
    ("IDR", "anomaly_detected", "le contrôle de l'ASP a trouvé une anomalie, souvent un RIB erroné",
     "vérifier que l'IBAN et le BIC sont ceux de l'élève ou de son représentant légal, corriger, relancer"),
    ("INR", "processing_control", "contrôle de l'agence comptable de l'ASP en cours", _WAIT_ASP),
    ("IPR", "control_anomaly", "le contrôle de l'agence comptable a relevé un problème", _WAIT_ASP),
    ("RJT", "payment_difficulty", "échec technique du virement (par exemple un compte qui refuse les "
     "virements) ; l'ASP enverra un courriel", "suivre ce courriel (souvent un nouveau RIB), puis relancer"),
    ("SFR", "fraud_suspicion", "fraude possible sur ces coordonnées bancaires, peut-être depuis un autre "
     "dispositif", _WAIT_ASP),
)}
PAYMENT_FALLBACK = AspReason("fallback_message", "le paiement a échoué",
                             "contacter le support, qui lira le libellé de l'ASP")

# §5.4: list "RefMotifOR", only C1 is known.
RECOVERY_FAILURES: dict[str, AspReason] = {
    "C1": AspReason("beneficiary_deceased", "ordre de reversement non émis : bénéficiaire décédé",
                    "rien : aucun reversement ne sera demandé"),
}
RECOVERY_FALLBACK = AspReason("fallback_message", "l'ordre de reversement n'a pas été émis",
                              "contacter le support, qui lira le libellé de l'ASP")

# Faults of a return line itself (§9.2 G4 `invalid`): reported to operators, never applied.
LINE_FAULTS: dict[str, AspReason] = {key: AspReason(key, words, todo, "operators") for key, words, todo in (
    ("unknown_payment_state", "ETATPAIEMENT inconnu", "demander à l'ASP le sens de cet état"),
    ("missing_prestation_id", "ligne sans IDPRESTADOSS", "signaler la ligne à l'ASP"),
    ("several_prestations", "plusieurs IDPRESTADOSS dans un même enregistrement",
     "répartir le montant avec l'ASP avant tout rapprochement"),
    ("missing_amount", "paiement sans montant", "signaler la ligne à l'ASP"),
    ("bad_amount", "montant illisible", "signaler la ligne à l'ASP"),
    ("bad_date", "date illisible (attendue jj/mm/aaaa)", "signaler la ligne à l'ASP"),
    ("missing_record_id", "ligne sans numéro d'enregistrement", "signaler la ligne à l'ASP"),
    ("bad_record_id", "numéro d'enregistrement non numérique", "signaler la ligne à l'ASP"),
    ("missing_asp_ids", "ligne d'intégration sans identifiant ASP (individu, dossier ou prestation)",
     "signaler la ligne à l'ASP"),
    ("bad_asp_id", "identifiant ASP non numérique", "signaler la ligne à l'ASP"),
)}

_SPACES = re.compile(r"\s+")


def classify_reject(motif: str | None) -> AspReason:
    """§6.1: collapse whitespace, trim, first matching pattern wins; nothing matches → `fallback_message`."""
    text = _SPACES.sub(" ", motif or "").strip()
    if text:
        for pattern, reason in REJECT_PATTERNS:
            if pattern.search(text):
                return reason
    return FALLBACK


def classify_payment_failure(code: str | None) -> AspReason:
    """§6.2: `CODEMOTIFINVAL` → key; unknown codes (the mocks' `IAL`) and none → `fallback_message`."""
    return PAYMENT_FAILURES.get((code or "").strip(), PAYMENT_FALLBACK)


def classify_recovery_failure(code: str | None) -> AspReason:
    """§5.4: `CODEMOTIFOR` of an `INVALIDE` recovery order → key; unknown → `fallback_message`."""
    return RECOVERY_FAILURES.get((code or "").strip(), RECOVERY_FALLBACK)


def line_fault(key: str) -> AspReason:
    return LINE_FAULTS[key]


def all_reasons() -> tuple[AspReason, ...]:
    """Every reason a return line can carry (for catalogs and the test that each has words)."""
    return (*(r for _, r in REJECT_PATTERNS), FALLBACK, *PAYMENT_FAILURES.values(), PAYMENT_FALLBACK,
            *RECOVERY_FAILURES.values(), RECOVERY_FALLBACK, *LINE_FAULTS.values())
