"""Reference data the imports check against: establishments (national directory) and MEFs (BCN)."""

from __future__ import annotations

from dataclasses import dataclass, replace


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


def snapshot_changed(stored: Establishment | None, loaded: Establishment) -> bool:
    """Whether a directory row changes what schooling events carry of an establishment (all of its fields).
    A new establishment has no schoolings yet; a row without `city_insee` keeps the stored code (the upsert)."""
    if stored is None:
        return False
    if loaded.city_insee is None:
        loaded = replace(loaded, city_insee=stored.city_insee)
    return loaded != stored


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
