"""The French words of the pages (features.md §3): PFMP states and what each refusal means to do."""

from __future__ import annotations

PFMP_STATUS = {
    "pending": ("À compléter", "fr-badge--new"),
    "completed": ("Saisie à valider", "fr-badge--info"),
    "validated": ("Validée", "fr-badge--success"),
    "rectified": ("Rectifiée", "fr-badge--warning"),
}

# Each refusal code: what happened and what to do, in plain French.
ERRORS = {
    "pfmp_overlaps": "Cette période chevauche une autre PFMP de l'élève : corrigez ou supprimez l'une des deux.",
    "pfmp_same_period": "L'élève a déjà une PFMP à ces dates.",
    "dates_inverted": "La date de fin est avant la date de début : corrigez les dates.",
    "outside_school_year": "La PFMP doit se situer dans l'année scolaire de la classe : corrigez les dates.",
    "day_count_too_low": "Le nombre de jours doit être au moins 1 (laissez vide si vous ne le connaissez pas encore).",
    "day_count_above_period": "Le nombre de jours dépasse le nombre de jours de la période : corrigez-le.",
    "unknown_schooling": "Cette scolarité n'existe pas dans cet établissement.",
    "unknown_pfmp": "Cette PFMP n'existe plus : rechargez la page.",
    "pfmp_validated": "Cette PFMP est validée : seul le directeur confirmé peut la rectifier.",
    "already_validated": "Cette PFMP est déjà validée.",
    "not_completed": "Saisissez d'abord le nombre de jours de la PFMP.",
    "not_finished": "La PFMP n'est pas terminée : elle pourra être validée après sa date de fin.",
    "missing_rib": "L'élève n'a pas de coordonnées bancaires pour cet établissement : saisissez-les d'abord.",
    "missing_attributive_decision": "La décision d'attribution de l'élève n'est pas encore éditée.",
    "director_already_confirmed": "Un autre chef d'établissement est déjà directeur confirmé de cet établissement.",
    "statement_required": "Cochez la déclaration du directeur confirmé pour valider.",
    "pfmp_payment_ongoing": "Une demande de paiement de cette PFMP est en cours à l'ASP : attendez son résultat.",
    "pfmp_known_to_asp": "L'ASP connaît déjà cette PFMP : elle ne peut plus être supprimée (rectifiez-la).",
    "missing_day_count": "Une rectification demande un nombre de jours (0 pour un reversement total).",
    "invalid_form": "Le formulaire est incomplet ou mal rempli : vérifiez les dates et le nombre de jours.",
}


def error_message(code: str) -> str:
    return ERRORS.get(code, f"Action refusée ({code}).")
