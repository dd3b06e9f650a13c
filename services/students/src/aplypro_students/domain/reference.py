"""Reference data the imports check against: establishments (national directory) and MEFs (BCN)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Establishment:
    uai: str
    name: str
    ministry: str = "MENJ"
    academy_code: str | None = None
    contract_type_code: str = "99"  # 99 = public
    address_lines: tuple[str, ...] = ()
    postal_code: str | None = None
    city: str | None = None
    email: str | None = None
    phone: str | None = None
    head_name: str | None = None
    city_insee: str | None = None  # commune INSEE code (directory `code_commune`): ASP address of students abroad


@dataclass(frozen=True)
class Mef:
    """The BCN attributes of a training code: what the calculator needs to price it."""

    code: str  # 10 digits
    dispositif: str
    diploma: str  # 8 characters
    duration: int | None
    year: int | None
    label: str
    ministry: str
