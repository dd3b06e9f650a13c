"""The SEPA zone as dated data (imports.md §8): review it each school year, schwifty is not the authority."""

from __future__ import annotations

from datetime import date

REVIEWED_ON = date(2025, 9, 1)  # the list of the existing system; the EPC admitted countries in 2024-2025

# IBAN prefixes accepted for payment (French overseas departments use FR; Guernsey, Jersey, Man use GB).
SEPA_IBAN_COUNTRIES = frozenset(
    "AD AT BE BG CH CY CZ DE DK EE ES FI FR GB GI GR HR HU IE IS IT LI LT LU LV MC MT NL NO PL PT RO SE SI SK "
    "SM VA".split()
)

# BIC country codes: an FR IBAN of New Caledonia, French Polynesia or Wallis-and-Futuna carries an NC, PF or
# WF BIC, outside SEPA, which the ASP refuses (`bic_sepa_not_allowed`). Overseas departments and the Crown
# dependencies have their own BIC country codes but are inside the zone.
SEPA_BIC_COUNTRIES = SEPA_IBAN_COUNTRIES | frozenset("GF GP MQ RE YT PM BL MF GG JE IM".split())
