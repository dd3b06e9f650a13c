"""Who may use the web application, read from the identity's claims at every login (features.md §1).

Pure rules, no I/O. The claims are the FIM/CAS attributes a ProConnect-like provider passes through:

* `FrEduRneResp` lines `UAI$UAJ$PU$N$T3$LYC$340` count for a director when `FrEduFonctAdm` is `DIR` (CAS, for
  MASA: `fr_edu_rne_resp` and `fr_edu_fonct_adm`, read the same way);
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

The collèges authorised by name (features.md §1: 8 of them, their UAIs a setting) are kept whatever their type.

Each login realm grants only its own roles (`within_realm`): school realms (FIM, CAS) establishment roles,
the academic realm academies, the ASP realm the ASP agent; a claim from another realm's world grants nothing
(defence in depth). A user with no role left is refused (`NoRole`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

KEPT_TYPES = frozenset({"LYC", "LP", "SEP", "EREA", "CFPA", "EME", "IMP", "CONT"})
ASP_DOMAINS = ("@asp-public.fr", "@asp.gouv.fr")


class RealmKind(StrEnum):
    """What a login realm may grant."""

    ALL = "all"  # one provider carrying every realm's claims (the single-provider default, the local stack)
    SCHOOL = "school"  # FIM (MENJ, Mer, Armées), CAS (MASA): directors and authorised staff
    ACADEMIC = "academic"  # rectorats and the ministry: academies, `*` the national admin
    ASP = "asp"  # the paying agency's own realm: ASP agents


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


def _kept_uai(line: str, colleges: frozenset[str]) -> str | None:
    """The UAI of a `FrEduRneResp` line if its establishment type is kept (no type: kept) or it is one of the
    `colleges` authorised by name."""
    fields = line.strip().split("$")
    uai = fields[0].strip().upper()
    if len(uai) != 8:
        return None
    if uai in colleges:
        return uai
    if len(fields) > 5 and fields[5].strip() and fields[5].strip().upper() not in KEPT_TYPES:
        return None
    return uai


def _delegated_uai(line: str, colleges: frozenset[str]) -> str | None:
    pairs = dict(part.split("=", 1) for part in line.split("|") if "=" in part)
    attrs = {k.strip().lower(): v.strip() for k, v in pairs.items()}
    if attrs.get("applicationname", "").lower() != "aplypro":
        return None
    return _kept_uai(attrs.get("fredurneresp", ""), colleges)


def email_of(claims: Mapping[str, object]) -> str:
    """The identity's e-mail, as invitations store it (trimmed, lower-case); '' when none."""
    return str(claims.get("email") or "").strip().lower()


def within_realm(roles: Roles, realm: RealmKind) -> Roles:
    """Only the roles `realm` may grant: an ASP e-mail arriving through a school realm is no ASP agent, an
    academy code arriving through the ASP realm no academic user."""
    if realm is RealmKind.ALL:
        return roles
    school = realm is RealmKind.SCHOOL
    return Roles(director_of=roles.director_of if school else frozenset(),
                 authorised_in=roles.authorised_in if school else frozenset(),
                 academies=roles.academies if realm is RealmKind.ACADEMIC else frozenset(),
                 asp_agent=roles.asp_agent and realm is RealmKind.ASP)


def roles_from_claims(claims: Mapping[str, object], invited: Iterable[str] = (),
                      invited_academies: Iterable[str] = (), *, realm: RealmKind = RealmKind.ALL,
                      authorised_colleges: Iterable[str] = ()) -> Roles:
    """The roles of one login through `realm` (`invited`: the UAIs its e-mail is invited to;
    `invited_academies`: the academies it is invited to; `authorised_colleges`: UAIs kept whatever their type);
    raises NoRole when there are none."""
    colleges = frozenset(u.strip().upper() for u in authorised_colleges)
    director: set[str] = set()
    # FIM attribute names, or CAS's (MASA) for the same facts: `fr_edu_fonct_adm`, `fr_edu_rne_resp`.
    functions = _values(claims, "FrEduFonctAdm") + _values(claims, "fr_edu_fonct_adm")
    if "DIR" in {v.strip().upper() for v in functions}:
        lines = _values(claims, "FrEduRneResp") + _values(claims, "fr_edu_rne_resp")
        director |= {u for line in lines if (u := _kept_uai(line, colleges))}
    director |= {u for line in _values(claims, "AplyproResp") if (u := _kept_uai(line, colleges))}
    delegated = {u for line in _values(claims, "FrEduResDel") if (u := _delegated_uai(line, colleges))}
    delegated |= {u for line in invited if (u := _kept_uai(line, colleges))}
    delegated -= director
    academies = {v.strip() for v in _values(claims, "AplyproAcademieResp") if v.strip()}
    # Defence in depth: an invitation's code is checked when stored; `*` from one would make a national admin.
    academies |= {c.strip() for c in invited_academies if c.strip() and c.strip() != "*"}
    email = email_of(claims)
    roles = within_realm(Roles(frozenset(director), frozenset(delegated), frozenset(academies),
                               email.endswith(ASP_DOMAINS)), realm)
    if not (roles.establishments or roles.academies or roles.asp_agent):
        raise NoRole("no responsibility, delegation, academy or ASP address in this identity")
    return roles
