"""Why a payment request is blocked, in plain words: one shared catalog (lifecycles.md §4) so that every
service, command line and the future web application show the same sentence and the same advice for a key.

Events carry only the keys (PaymentRequestBlocked.reasons, PaymentRequestStateChanged.reasons); readers turn
them into words with `describe`. Each service has a test that every key its code can emit is listed here, so
a new reason without words fails the build.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Owner = Literal["students", "pfmp", "calculator", "documents", "asp-gateway"]


@dataclass(frozen=True)
class ReasonText:
    key: str
    blocks: str  # what blocks, as the school reads it
    todo: str  # what the user must do ("nothing: ..." when no one at the school can act)
    owner: Owner  # the service that owns the data (and decides the reason)
    row: int | None = None  # row of lifecycles.md §4; None: a reason of our own (the gateway's file checks...)
    parking: bool = False  # the request waits in `pending` and is released by a switch or an event, not a fix

    def line(self) -> str:
        return f"{self.key}: {self.blocks}. What to do: {self.todo}."


_SOURCE = "get it filled in the source system (BEE/SYGNE for MENJ and Mer, COLENTAGRI/FREGATA for MASA); it " \
          "comes back with the next student refresh"


def _r(key: str, blocks: str, todo: str, owner: Owner, row: int | None = None,
       parking: bool = False) -> tuple[str, ReasonText]:
    return key, ReasonText(key, blocks, todo, owner, row, parking)


REASONS: dict[str, ReasonText] = dict((
    # --- lifecycles.md §4, rows 1–23 and funding_unavailable ---
    _r("missing_biological_sex", "the student's sex is unknown", _SOURCE, "students", 1),
    _r("ine_not_found", "the student API does not know this INE any more (usually a duplicate removed in an INE "
       "reconciliation)", "enter the PFMPs on the student's other, live record; this one is a duplicate",
       "students", 2),
    _r("missing_birthplace_country_insee_code", "the birth country code is empty",
       "fill it in the source system", "students", 3),
    _r("missing_birthplace_city_insee_code", "the student was born in France and the birth commune code is empty",
       "fill it in the source system", "students", 4),
    _r("unusable_birthplace_country_insee_code", "the birth country code (990 or 995) is not a country",
       "correct it in the source system", "students", 5),
    _r("missing_address_country_code", "the address country code is empty", "fill it in the source system",
       "students", 6),
    _r("missing_address_postal_code", "the student lives in France and the postal code is empty",
       "fill it in the source system", "students", 7),
    _r("missing_address_city_insee_code", "the student lives in France and the commune INSEE code is empty",
       "fill it in the source system", "students", 8),
    _r("pfmp", "the PFMP breaks its own rules (dates, day count, amount, PFMP number, or its pool is over the "
       "yearly cap)", "correct the PFMP; an over-cap pool goes to the operators", "calculator", 9),
    _r("pfmp_amount", "the amount is missing or negative, or 0 on a PFMP that is not rectified",
       "check the day count; at 0 because the yearly cap is used up there is nothing to pay", "calculator", 10),
    _r("pfmp_outside_schooling_dates", "the PFMP is not within the schooling's dates",
       "move the PFMP dates inside the schooling, get the schooling dates fixed at the source, or set a report",
       "pfmp", 11),
    _r("overlaps", "another validated or rectified PFMP of the same student shares at least one day with this one",
       "delete or correct one of the two PFMPs", "calculator", 12),
    _r("missing_attributive_decision", "the schooling has no décision d'attribution (DA)", "generate the DA",
       "documents", 13),
    _r("needs_abrogated_attributive_decision", "the student changed class or school this year and an earlier "
       "schooling's DA is still in force", "abrogate the DA of the earlier schooling(s)", "documents", 14),
    _r("attributive_decision_cancelled", "the schooling's DA was withdrawn (retrait)",
       "nothing: no payment is possible on this schooling", "documents", 15),
    _r("missing_rib", "no bank details for the PFMP's establishment",
       "enter the bank details for this establishment", "students", 16),
    _r("rib", "the bank details are invalid (IBAN, SEPA zone, BIC or holder name)",
       "enter corrected bank details", "students", 17),
    _r("rib_rejected_by_asp", "the ASP rejected these bank details for a payment of this PFMP",
       "enter new bank details; the payment is retried with them", "students"),
    _r("adult_wrong_owner_type", "the student is 18 or older on the PFMP's first day and the account belongs to "
       "another person or to a legal person", "enter the student's own account, or a third-party account with "
       "a signed mandate", "students", 18),
    _r("student_type", "the schooling's status is not 'student' (apprentice, other or unknown)",
       "get the status fixed at the source; apprentices are not eligible", "students", 19),
    _r("excluded_schooling", "the establishment, MEF and year are excluded from the scheme",
       "nothing; contact support if the exclusion is wrong", "calculator", 20),
    _r("negative_rectification", "the rectified total is below the amount paid while downward corrections are "
       "switched off", "nothing: the request is released when the switch is turned on", "calculator", 21,
       parking=True),
    _r("mef_without_bareme", "no daily rate or yearly cap for the class's MEF and year",
       "nothing; the operators add the barème parameter", "calculator", 22),
    _r("malformed_country_code", "a country code (birth or address) is neither 3 nor 5 characters long",
       "correct it in the source system", "students", 23),
    _r("hidden_schooling", "the schooling is hidden: staff removed a learner who never came, or the ministry that "
       "reported it retracted it", "nothing if the learner never came; if they did, staff reintegrate them (a "
       "retracted schooling: ask the reporting ministry, or support if a DA was issued)", "students"),
    _r("funding_unavailable", "the budget programme (BOP) is switched off",
       "nothing; the request is released when funding is restored", "asp-gateway", parking=True),
    # --- our own: what keeps a request from being evaluated or sent is never silent (lifecycles.md §4 notes) ---
    _r("awaiting_evaluation", "the request waits for its cool-down (the next midnight after the validation)",
       "nothing; same-day mistakes can still be fixed before then", "calculator", parking=True),
    _r("missing_student_identity", "the payment service has not received the student's identity yet",
       "nothing; it arrives with the next student refresh (contact support if it lasts)", "students"),
    _r("missing_schooling", "the payment service has not received the schooling yet",
       "nothing; it arrives with the next student refresh (contact support if it lasts)", "students"),
    _r("missing_name", "the student's last name or first names are empty once written for the ASP",
       "fill them in the source system", "students"),
    _r("invalid_characters", "the student's names or codes contain control characters",
       "correct them in the source system", "students"),
    _r("missing_establishment_city_insee_code", "the student lives abroad: the ASP then gets the establishment's "
       "address, whose commune INSEE code is not known", "get the establishment's commune code into the "
       "establishment directory (contact support)", "students"),
    _r("missing_establishment_postal_code", "the student lives abroad: the ASP then gets the establishment's "
       "address, whose postal code is not known", "get the establishment's postal code into the establishment "
       "directory (contact support)", "students"),
    _r("missing_address_line", "a rectification needs the student's street address (the ASP mails any recovery "
       "order there) and the address lines are empty", "fill the address in the source system", "students"),
    _r("address_too_long", "a line of the student's address is still too long for the ASP once abbreviated "
       "(street 28, other lines, foreign city and postal code 38 characters)",
       "shorten the address in the source system", "students"),
    _r("incomplete_foreign_address", "the student lives abroad and the city or the postal code is empty (a "
       "rectification sends the foreign address)", "fill them in the source system", "students"),
    _r("unusable_address_country_code", "the address country code (990 or 995) is not a country, and a "
       "rectification must send the real country", "correct it in the source system", "students"),
    _r("rectification_without_change", "the rectified total equals what the ASP already paid",
       "nothing: there is nothing to pay or recover", "asp-gateway"),
    _r("asp_schema_invalid", "the payment record does not pass the payment file's schema (XSD), so it was left "
       "out of the file", "nothing; contact support, who read the gateway's log for the element at fault",
       "asp-gateway"),
    _r("unknown_budget_programme", "no budget programme (BOP) matches the MEF's ministry",
       "nothing; contact support", "asp-gateway"),
    _r("bop_without_unite_suivi", "the budget programme has no ASP follow-up unit configured",
       "nothing; the operators configure it", "asp-gateway"),
    _r("da_number_length", "the DA number does not fit the 18–19 characters the ASP accepts",
       "nothing; the operators settle the prefix with the ASP", "asp-gateway"),
    _r("rectification_not_supported", "a correction of a PFMP already sent cannot be written for the ASP yet",
       "nothing; it waits for the rectification records", "asp-gateway", parking=True),
    _r("already_paid_first", "this PFMP already left in a payment file as a first payment",
       "nothing; a second first payment would pay it twice", "asp-gateway"),
    _r("numadm_already_sent", "this PFMP number already left in a payment file as a first payment",
       "nothing; a second first payment would pay it twice", "asp-gateway"),
    _r("awaiting_asp_integration", "waiting for the ASP to integrate an earlier request of this student",
       "nothing; sent automatically after", "asp-gateway", parking=True),
    _r("awaiting_asp_ids", "a correction of a PFMP already sent waits for the ASP to integrate its first payment "
       "(the ids a correction must carry)", "nothing; sent automatically after", "asp-gateway", parking=True),
    _r("awaiting_asp_payment", "a correction of a PFMP waits for the ASP's payment answer to an earlier request "
       "of the PFMP", "nothing; sent automatically after", "asp-gateway", parking=True),
    _r("rectification_of_unpaid_pfmp", "a correction of a PFMP the ASP never paid", "nothing; ask support: "
       "a new request (relaunch) pays it instead", "asp-gateway"),
    _r("awaiting_asp_answer_overdue", "waiting for the ASP to answer an earlier payment file of this student, "
       "overdue (no integration nor reject line within the set working days)",
       "nothing at the school; the operators ask the ASP about that file (the request is never sent twice)",
       "asp-gateway", parking=True),
    _r("record_build_failed", "the payment record could not be written as XML", "nothing; contact support",
       "asp-gateway"),
    _r("sent_after_withdrawal", "the DA was withdrawn after the request left in a payment file",
       "nothing at the school: the retrait's rectification to 0 recovers what the ASP pays", "asp-gateway"),
))


def describe(key: str) -> ReasonText:
    """The words of a key; an unknown one (a newer producer) still shows, with a neutral advice."""
    return REASONS.get(key) or ReasonText(key, "a reason this version does not know",
                                          "nothing; contact support", "asp-gateway")
