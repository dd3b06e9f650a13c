"""Who may use the web application, read from the identity's claims at every login (features.md §1).

Pure rules, no I/O. The claims are the FIM/CAS attributes a ProConnect-like provider passes through:

* `FrEduRneResp` lines `UAI$UAJ$PU$N$T3$LYC$340` count for a director when `FrEduFonctAdm` is `DIR`;
  `AplyproResp` adds UAIs (special cases). The 6th field, when present, is the establishment type: only
  LYC LP SEP EREA CFPA EME IMP CONT are kept.
* `FrEduResDel` delegations (DELEG-CE) with `applicationname=aplypro` make authorised staff of the
  `FrEduRneResp=` UAI they carry (format `key=value|key=value…`: an open point until the real attribute
  is seen; unknown shapes are ignored, never guessed).
* An e-mail a director invited (staff_invitations, read by the caller) makes authorised staff of the
  establishments it was invited to.
* `AplyproAcademieResp` academy codes make an academic user; `*` makes a national admin. The academies an
  e-mail is invited to by the national admin (academic_invitations, read by the caller) are merged with them;
  an invitation never names `*`.
* An e-mail ending `@asp-public.fr` or `@asp.gouv.fr` is an ASP agent.

A user with none of these is refused (`NoRole`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KEPT_TYPES = frozenset({"LYC", "LP", "SEP", "EREA", "CFPA", "EME", "IMP", "CONT"})
ASP_DOMAINS = ("@asp-public.fr", "@asp.gouv.fr")


class NoRole(PermissionError):
    """The identity carries no responsibility, delegation, academy or ASP address: login refused."""

    code = "no_role"


@dataclass(frozen=True)
class Roles:
    """What one login grants; recomputed from the claims every time (a role that disappeared is gone)."""

    director_of: frozenset[str] = frozenset()
    authorised_in: frozenset[str] = frozenset()
    academies: frozenset[str] = frozenset()
    asp_agent: bool = False

    @property
    def establishments(self) -> frozenset[str]:
        """The UAIs whose staff pages this user may open."""
        return self.director_of | self.authorised_in

    @property
    def admin(self) -> bool:
        return "*" in self.academies

    def to_session(self) -> dict[str, object]:
        return {"dir": sorted(self.director_of), "authorised": sorted(self.authorised_in),
                "academies": sorted(self.academies), "asp": self.asp_agent}

    @classmethod
    def from_session(cls, data: Mapping[str, object]) -> Roles:
        def uais(key: str) -> frozenset[str]:
            value = data.get(key, [])
            return frozenset(str(v) for v in value) if isinstance(value, list) else frozenset()
        return cls(uais("dir"), uais("authorised"), uais("academies"), bool(data.get("asp", False)))


def _values(claims: Mapping[str, object], name: str) -> list[str]:
    value = claims.get(name)
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return []


def _kept_uai(line: str) -> str | None:
    """The UAI of a `FrEduRneResp` line if its establishment type is kept (no type: kept)."""
    fields = line.strip().split("$")
    uai = fields[0].strip().upper()
    if len(uai) != 8:
        return None
    if len(fields) > 5 and fields[5].strip() and fields[5].strip().upper() not in KEPT_TYPES:
        return None
    return uai


def _delegated_uai(line: str) -> str | None:
    pairs = dict(part.split("=", 1) for part in line.split("|") if "=" in part)
    attrs = {k.strip().lower(): v.strip() for k, v in pairs.items()}
    if attrs.get("applicationname", "").lower() != "aplypro":
        return None
    return _kept_uai(attrs.get("fredurneresp", ""))


def email_of(claims: Mapping[str, object]) -> str:
    """The identity's e-mail, as invitations store it (trimmed, lower-case); '' when none."""
    return str(claims.get("email") or "").strip().lower()


def roles_from_claims(claims: Mapping[str, object], invited: Iterable[str] = (),
                      invited_academies: Iterable[str] = ()) -> Roles:
    """The roles of one login (`invited`: the UAIs its e-mail is invited to; `invited_academies`: the academies
    it is invited to); raises NoRole when there are none."""
    director: set[str] = set()
    if "DIR" in {v.strip().upper() for v in _values(claims, "FrEduFonctAdm")}:
        director |= {u for u in map(_kept_uai, _values(claims, "FrEduRneResp")) if u}
    director |= {u for u in map(_kept_uai, _values(claims, "AplyproResp")) if u}
    delegated = {u for u in map(_delegated_uai, _values(claims, "FrEduResDel")) if u}
    delegated |= {u for u in map(_kept_uai, invited) if u}
    delegated -= director
    academies = {v.strip() for v in _values(claims, "AplyproAcademieResp") if v.strip()}
    # Defence in depth: an invitation's code is checked when stored; `*` from one would make a national admin.
    academies |= {c.strip() for c in invited_academies if c.strip() and c.strip() != "*"}
    email = email_of(claims)
    roles = Roles(frozenset(director), frozenset(delegated), frozenset(academies), email.endswith(ASP_DOMAINS))
    if not (roles.establishments or roles.academies or roles.asp_agent):
        raise NoRole("no responsibility, delegation, academy or ASP address in this identity")
    return roles
