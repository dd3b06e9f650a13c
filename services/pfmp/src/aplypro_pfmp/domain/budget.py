"""Budget prefixes (*indicateur de BOP*, documents.md §4) as the statistics group schoolings by them
(features.md §4: `ENPU`, `ENPR`, `MASA`, `MER`), and an establishment's sector as the tables show it.

A schooling's prefix comes from its MEF's ministry and its establishment's contract type: MENJ splits into
public (`99`) and private under contract; MASA and MER keep their own. Anything else (Armées, MENJ under another
contract code, or an establishment pfmp has not heard of yet) counts under `AUTRE`, so that the four rows and
`AUTRE` always add up to the national total.
"""

from __future__ import annotations

PREFIXES = ("ENPU", "ENPR", "MASA", "MER")
OTHER = "AUTRE"
PUBLIC_CODE = "99"
PRIVATE_UNDER_CONTRACT_CODES = ("10", "20", "30", "31", "40", "41", "60")


def budget_prefix(ministry: str | None, contract_type_code: str | None) -> str:
    """The prefix of a schooling whose MEF (else establishment) has `ministry`; `OTHER` when none of the four."""
    name = (ministry or "").strip().upper()
    if name == "MENJ":
        if contract_type_code == PUBLIC_CODE:
            return "ENPU"
        return "ENPR" if contract_type_code in PRIVATE_UNDER_CONTRACT_CODES else OTHER
    return name if name in ("MASA", "MER") else OTHER


def sector(contract_type_code: str | None) -> str:
    """*Public* or *Privé* (features.md §4's establishments table); '' when the establishment is not known."""
    if contract_type_code is None:
        return ""
    return "Public" if contract_type_code == PUBLIC_CODE else "Privé"


def sql_case(ministry: str, contract_type_code: str) -> str:
    """budget_prefix as a SQL expression over two column expressions (the indicators group by it)."""
    private = ", ".join(f"'{code}'" for code in PRIVATE_UNDER_CONTRACT_CODES)
    name = f"upper(trim(coalesce({ministry}, '')))"
    return (f"CASE WHEN {name} = 'MENJ' THEN CASE WHEN {contract_type_code} = '{PUBLIC_CODE}' THEN 'ENPU' "
            f"WHEN {contract_type_code} IN ({private}) THEN 'ENPR' ELSE '{OTHER}' END "
            f"WHEN {name} IN ('MASA', 'MER') THEN {name} ELSE '{OTHER}' END")
