"""The French words of the RIB pages (imports.md §8): owner types and what each refusal means to do."""

from __future__ import annotations

OWNER_TYPES = {
    "personal": "L'élève",
    "other_person": "Un représentant légal ou un tiers (parent, tuteur)",
    "moral_person": "Une personne morale (par exemple un organisme de l'aide sociale à l'enfance)",
    "mandate": "Un tiers, sur mandat signé par l'élève majeur",
}

# The students service's stable keys, in plain French: what is wrong and what to do. Never the value.
RIB_ERRORS = {
    "iban.blank": "Saisissez l'IBAN.",
    "iban.country": "Les deux premières lettres de l'IBAN ne sont pas un code pays : vérifiez-les.",
    "iban.length": "L'IBAN n'a pas la longueur prévue pour son pays : vérifiez qu'il est complet.",
    "iban.checksum": "La clé de contrôle de l'IBAN est fausse : une erreur de frappe ? Vérifiez l'IBAN sur le RIB.",
    "iban.bban_checksum": "La clé RIB contenue dans l'IBAN est fausse : vérifiez l'IBAN sur le RIB.",
    "iban.format": "L'IBAN ne suit pas le format de son pays : vérifiez-le sur le RIB.",
    "iban.sepa": "Ce compte est hors de la zone SEPA : l'ASP ne peut pas y payer. Demandez un autre compte.",
    "bic.format": "Le BIC compte 8 ou 11 lettres et chiffres (par exemple AGRIFRPP) : vérifiez-le sur le RIB.",
    "bic.location": "Les caractères 7 et 8 du BIC sont invalides : vérifiez-le sur le RIB.",
    "bic.branch": "Un code agence qui commence par X doit être XXX : vérifiez le BIC.",
    "bic.country": "Le pays du BIC (caractères 5 et 6) est inconnu : vérifiez-le.",
    "bic.sepa": "La banque est hors de la zone SEPA (Nouvelle-Calédonie, Polynésie, Wallis-et-Futuna…) : "
                "l'ASP refuserait le paiement. Demandez un autre compte.",
    "holder_name.blank": "Saisissez le nom du titulaire du compte.",
    "holder_name.too_long": "Le nom du titulaire dépasse 70 caractères : abrégez-le.",
    "holder_name.invalid_characters": "Le nom du titulaire contient des caractères que l'ASP n'accepte pas : "
                                      "lettres latines, chiffres, espace et / - ? : ( ) . , ' + seulement.",
    "unarchivable_rib": "Un paiement est en cours sur les coordonnées bancaires actuelles : elles ne peuvent pas "
                        "être remplacées avant qu'il soit payé ou en échec. Réessayez après le paiement.",
    "owner_type.invalid": "Choisissez le titulaire du compte.",
    "student.unknown": "Cet élève n'est pas connu du service des élèves : réessayez dans quelques minutes.",
    "student.duplicate": "Cet élève figure deux fois dans le formulaire.",
    "ine.unknown": "Cet élève n'est pas connu du service des élèves : réessayez dans quelques minutes.",
    "ine.not_enrolled": "Cet élève n'a pas de scolarité dans cet établissement.",
    "uai.unknown": "Cet établissement n'est pas encore connu du service des élèves.",
    "students_api_unavailable": "Le service des élèves ne répond pas : rien n'a été enregistré, réessayez dans "
                                "quelques minutes.",
}


def rib_error(code: str) -> str:
    return RIB_ERRORS.get(code, f"Coordonnées refusées ({code}).")
