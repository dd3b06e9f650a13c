"""Every blocking reason in plain French with what to do (lifecycles.md §4), for the student page.

The keys and their English words are the shared catalog `aplypro_contracts.reasons`; these are the words the
schools read. A test compares both catalogs, so a new reason without French words fails the build. The
gateway's return reasons (an ASP reject or a failed payment) have their own words: the ASP's errors
dictionary (asp-exchange.md §6), repeated here because the web application reads no other service's code.
"""

from __future__ import annotations

from typing import NamedTuple

from aplypro_contracts.reasons import REASONS


class Words(NamedTuple):
    blocks: str  # what blocks, as the school reads it
    todo: str  # what to do; "Rien à faire" when no one at the school can act


_SOURCE = ("la faire renseigner dans le système source (BEE/SYGNE pour l'Éducation nationale et la Mer, "
           "COLENTAGRI/FREGATA pour l'Agriculture) ; elle revient avec la prochaine mise à jour de l'élève")
_FILL = "la renseigner dans le système source (BEE/SYGNE, FREGATA)"
_FIX = "la corriger dans le système source (BEE/SYGNE, FREGATA)"
_LATER = "Rien à faire : la demande part automatiquement ensuite"
_SUPPORT = "Rien à faire à l'établissement ; contactez le support"

BLOCKING: dict[str, Words] = {k: Words(b, t) for k, (b, t) in {
    "missing_biological_sex": ("Le sexe de l'élève est inconnu", _SOURCE),
    "ine_not_found": ("L'INE de l'élève n'est plus connu (souvent un doublon supprimé lors d'un rapprochement "
                      "d'INE)", "Saisissez les PFMP sur l'autre fiche de l'élève, la fiche active ; celle-ci est "
                      "un doublon"),
    "missing_birthplace_country_insee_code": ("Le code du pays de naissance est vide", _FILL),
    "missing_birthplace_city_insee_code": ("L'élève est né en France et le code de la commune de naissance est "
                                           "vide", _FILL),
    "unusable_birthplace_country_insee_code": ("Le code du pays de naissance (990 ou 995) ne désigne pas un pays",
                                               _FIX),
    "missing_address_country_code": ("Le code du pays de l'adresse est vide", _FILL),
    "missing_address_postal_code": ("L'élève habite en France et le code postal est vide", _FILL),
    "missing_address_city_insee_code": ("L'élève habite en France et le code INSEE de la commune est vide", _FILL),
    "pfmp": ("La PFMP ne respecte pas ses propres règles (dates, nombre de jours, montant, numéro de PFMP, ou "
             "plafond annuel dépassé)", "Corrigez la PFMP ; un plafond dépassé est traité par les opérateurs"),
    "pfmp_amount": ("Le montant est absent ou négatif, ou nul sur une PFMP qui n'est pas rectifiée",
                    "Vérifiez le nombre de jours ; à 0 parce que le plafond annuel est atteint, il n'y a rien à "
                    "payer"),
    "pfmp_outside_schooling_dates": ("La PFMP n'est pas comprise dans les dates de la scolarité",
                                     "Déplacez les dates de la PFMP dans la scolarité, faites corriger les dates de "
                                     "la scolarité dans le système source, ou posez un report"),
    "overlaps": ("Une autre PFMP validée ou rectifiée de l'élève partage au moins un jour avec celle-ci",
                 "Supprimez ou corrigez l'une des deux PFMP"),
    "missing_attributive_decision": ("La scolarité n'a pas de décision d'attribution (DA)",
                                     "Éditez la décision d'attribution"),
    "needs_abrogated_attributive_decision": ("L'élève a changé de classe ou d'établissement cette année et la DA "
                                             "d'une scolarité antérieure est toujours en vigueur",
                                             "Abrogez la DA de la ou des scolarités antérieures"),
    "attributive_decision_cancelled": ("La DA de la scolarité a été retirée",
                                       "Rien à faire : aucun paiement n'est possible sur cette scolarité"),
    "missing_rib": ("Aucune coordonnée bancaire pour l'établissement de la PFMP",
                    "Saisissez les coordonnées bancaires pour cet établissement"),
    "rib": ("Les coordonnées bancaires sont invalides (IBAN, zone SEPA, BIC ou titulaire)",
            "Saisissez des coordonnées bancaires corrigées"),
    "rib_rejected_by_asp": ("L'ASP a rejeté ces coordonnées bancaires pour un paiement de cette PFMP",
                            "Saisissez de nouvelles coordonnées bancaires : le paiement sera relancé avec elles"),
    "adult_wrong_owner_type": ("L'élève a 18 ans ou plus au premier jour de la PFMP et le compte appartient à une "
                               "autre personne ou à une personne morale",
                               "Saisissez le compte de l'élève, ou un compte tiers avec un mandat signé"),
    "student_type": ("Le statut de la scolarité n'est pas « élève » (apprenti, autre ou inconnu)",
                     "Faites corriger le statut dans le système source ; les apprentis ne sont pas éligibles"),
    "excluded_schooling": ("L'établissement, le MEF et l'année sont exclus du dispositif",
                           "Rien à faire ; contactez le support si l'exclusion est une erreur"),
    "negative_rectification": ("Le total rectifié est inférieur au montant payé et les reversements sont "
                               "suspendus", "Rien à faire : la demande part dès que les reversements reprennent"),
    "mef_without_bareme": ("Aucun taux journalier ni plafond pour le MEF et l'année de la classe",
                           "Rien à faire ; les opérateurs ajoutent le barème"),
    "malformed_country_code": ("Un code pays (naissance ou adresse) n'a ni 3 ni 5 caractères", _FIX),
    "hidden_schooling": ("La scolarité est masquée : l'élève, jamais venu, a été masqué de la classe, ou le "
                         "ministère qui l'avait déclarée l'a retirée",
                         "Rien à faire si l'élève n'est jamais venu ; s'il est venu, réintégrez-le dans la classe "
                         "(scolarité retirée : voyez le ministère qui l'a déclarée, ou le support si une décision "
                         "d'attribution a été éditée)"),
    "funding_unavailable": ("Le programme budgétaire (BOP) est fermé",
                            "Rien à faire : la demande part dès que le financement est rétabli"),
    "awaiting_evaluation": ("La demande attend son délai de réflexion (le minuit suivant la validation)",
                            "Rien à faire ; une erreur du jour peut encore être corrigée d'ici là"),
    "missing_student_identity": ("Le service de paiement n'a pas encore reçu l'identité de l'élève",
                                 "Rien à faire : elle arrive avec la prochaine mise à jour de l'élève (contactez "
                                 "le support si cela dure)"),
    "missing_schooling": ("Le service de paiement n'a pas encore reçu la scolarité",
                          "Rien à faire : elle arrive avec la prochaine mise à jour de l'élève (contactez le "
                          "support si cela dure)"),
    "missing_name": ("Le nom ou les prénoms de l'élève sont vides une fois écrits pour l'ASP",
                     "Les renseigner dans le système source"),
    "invalid_characters": ("Les noms ou les codes de l'élève contiennent des caractères de contrôle",
                           "Les corriger dans le système source"),
    "missing_establishment_city_insee_code": ("L'élève habite à l'étranger : l'ASP reçoit alors l'adresse de "
                                              "l'établissement, dont le code INSEE de commune est inconnu",
                                              "Faites ajouter ce code à l'annuaire des établissements (contactez "
                                              "le support)"),
    "missing_establishment_postal_code": ("L'élève habite à l'étranger : l'ASP reçoit alors l'adresse de "
                                          "l'établissement, dont le code postal est inconnu",
                                          "Faites ajouter ce code postal à l'annuaire des établissements "
                                          "(contactez le support)"),
    "missing_address_line": ("Une rectification a besoin de l'adresse postale de l'élève (l'ASP y envoie un "
                             "éventuel ordre de reversement) et les lignes d'adresse sont vides",
                             "Renseignez l'adresse dans le système source"),
    "address_too_long": ("Une ligne de l'adresse de l'élève reste trop longue pour l'ASP une fois abrégée",
                         "Raccourcissez l'adresse dans le système source"),
    "incomplete_foreign_address": ("L'élève habite à l'étranger et la ville ou le code postal est vide",
                                   "Renseignez-les dans le système source"),
    "unusable_address_country_code": ("Le code du pays de l'adresse (990 ou 995) ne désigne pas un pays",
                                      "Corrigez-le dans le système source"),
    "rectification_without_change": ("Le total rectifié est égal à ce que l'ASP a déjà payé",
                                     "Rien à faire : il n'y a rien à payer ni à reverser"),
    "asp_schema_invalid": ("La demande ne passe pas le schéma du fichier de paiement et n'a pas été envoyée",
                           _SUPPORT),
    "unknown_budget_programme": ("Aucun programme budgétaire (BOP) ne correspond au ministère du MEF", _SUPPORT),
    "bop_without_unite_suivi": ("Le programme budgétaire n'a pas d'unité de suivi ASP",
                                "Rien à faire ; les opérateurs la configurent"),
    "da_number_length": ("Le numéro de DA n'a pas les 18 ou 19 caractères acceptés par l'ASP",
                         "Rien à faire ; les opérateurs règlent le préfixe avec l'ASP"),
    "rectification_not_supported": ("La correction d'une PFMP déjà envoyée ne peut pas encore être écrite pour "
                                     "l'ASP", "Rien à faire : elle attend les enregistrements de rectification"),
    "already_paid_first": ("Cette PFMP est déjà partie en premier paiement",
                           "Rien à faire : un second premier paiement la paierait deux fois"),
    "numadm_already_sent": ("Ce numéro de PFMP est déjà parti en premier paiement",
                            "Rien à faire : un second premier paiement la paierait deux fois"),
    "awaiting_asp_integration": ("En attente de l'intégration par l'ASP d'une demande antérieure de l'élève",
                                 _LATER),
    "awaiting_asp_ids": ("La correction attend que l'ASP intègre le premier paiement de la PFMP", _LATER),
    "awaiting_asp_payment": ("La correction attend la réponse de paiement de l'ASP à une demande antérieure",
                             _LATER),
    "rectification_of_unpaid_pfmp": ("Correction d'une PFMP que l'ASP n'a jamais payée",
                                     "Relancez la demande de paiement (une nouvelle demande la paie)"),
    "awaiting_asp_answer_overdue": ("L'ASP n'a pas répondu à temps à un fichier de paiement antérieur de "
                                    "l'élève", "Rien à faire à l'établissement : les opérateurs interrogent "
                                    "l'ASP (la demande n'est jamais envoyée deux fois)"),
    "record_build_failed": ("La demande n'a pas pu être écrite en XML", _SUPPORT),
    "sent_after_withdrawal": ("La DA a été retirée après l'envoi de la demande",
                              "Rien à faire : la rectification à 0 du retrait récupère ce que l'ASP paie"),
}.items()}

_CHECK_RIB = "Vérifiez puis ressaisissez les coordonnées bancaires, puis relancez"
_FIX_ADDRESS = "Faites corriger l'adresse de l'élève, puis relancez"
_SEPA = "Utilisez un compte d'un pays de la zone SEPA, puis relancez"
_WAIT_ASP = "Attendez les instructions de l'ASP"

# A rejected request or a failed payment: the gateway's keys of the ASP's answer (asp-exchange.md §6).
RETURNS: dict[str, Words] = {k: Words(b, t) for k, (b, t) in {
    "payment_coordinates_blocked": ("Un premier paiement a échoué : l'ASP a bloqué ces coordonnées bancaires",
                                    "Attendez que l'ASP contacte l'établissement et les débloque, puis relancez"),
    "birth_commune_not_found": ("La commune de naissance n'existait pas à la date de naissance",
                                "Faites-la corriger dans la fiche source de l'élève"),
    "outdated_insee_code": ("Le code INSEE de la commune de résidence n'existe plus", _FIX_ADDRESS),
    "localisationgeographique_not_found": ("Le code postal ou le code INSEE de résidence n'existe pas",
                                           _FIX_ADDRESS),
    "refinseepays_not_found": ("Le code du pays de résidence n'existe pas", _FIX_ADDRESS),
    "refdombancaire_not_found": ("Aucune agence bancaire active ne correspond à ces coordonnées",
                                 "Vérifiez l'IBAN et le BIC avec la famille, puis relancez"),
    "inconsistent_address": ("Le code INSEE et le code postal de l'adresse ne concordent pas", _FIX_ADDRESS),
    "bic_sepa_not_allowed": ("Le pays du BIC n'accepte pas les virements SEPA", _SEPA),
    "iban_sepa_not_allowed": ("L'IBAN n'appartient pas à la zone SEPA", _SEPA),
    "invalid_rib": ("Les coordonnées bancaires sont invalides", _CHECK_RIB),
    "invalid_payment_coordinates": ("Les coordonnées bancaires sont invalides", _CHECK_RIB),
    "hamlet": ("Les codes de l'adresse désignent un lieu-dit", _FIX_ADDRESS),
    "bic_length": ("Le BIC ne peut pas être interprété", "Vérifiez puis ressaisissez le BIC, puis relancez"),
    "numadm_not_unique": ("L'ASP connaît déjà ce numéro de décision d'attribution",
                          "Rien à faire à l'établissement : les opérateurs regroupent les envois du dossier"),
    "previous_bank_rejection": ("Coordonnées bancaires bloquées (rejet bancaire antérieur ou suspicion de "
                                "fraude)", "Attendez le contact de l'ASP"),
    "anomaly_detected": ("Le contrôle de l'ASP a trouvé une anomalie, souvent un RIB erroné",
                         "Vérifiez que l'IBAN et le BIC sont ceux de l'élève ou de son représentant légal, "
                         "corrigez, puis relancez"),
    "processing_control": ("Contrôle de l'agence comptable de l'ASP en cours", _WAIT_ASP),
    "control_anomaly": ("Le contrôle de l'agence comptable a relevé un problème", _WAIT_ASP),
    "payment_difficulty": ("Échec technique du virement (par exemple un compte qui refuse les virements)",
                           "Suivez le courriel de l'ASP (souvent un nouveau RIB), puis relancez"),
    "fraud_suspicion": ("Fraude possible sur ces coordonnées bancaires", _WAIT_ASP),
    "beneficiary_deceased": ("Ordre de reversement non émis : bénéficiaire décédé",
                             "Rien à faire : aucun reversement ne sera demandé"),
    "fallback_message": ("Problème inattendu signalé par l'ASP",
                         "Contactez le support, qui lira le motif de l'ASP ; relancez une fois corrigé"),
}.items()}

UNKNOWN = Words("Motif que cette version ne connaît pas encore", "Contactez le support")


def words(key: str, state: str) -> Words:
    """The words of a key; an ASP answer's keys first for a rejected or unpaid request."""
    tables = (RETURNS, BLOCKING) if state in ("rejected", "unpaid") else (BLOCKING, RETURNS)
    for table in tables:
        if key in table:
            return table[key]
    return UNKNOWN


def missing_words() -> set[str]:
    """Keys of the shared catalog without French words here (a test keeps it empty)."""
    return set(REASONS) - set(BLOCKING)
