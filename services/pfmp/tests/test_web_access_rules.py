"""Roles from the identity's claims at login (features.md §1), as pure rules."""

from __future__ import annotations

import pytest
from aplypro_pfmp.domain.access import NoRole, Roles, roles_from_claims


def test_a_director_line_counts_only_with_the_dir_function() -> None:
    line = "0999001K$UAJ$PU$N$T3$LP$340"
    assert roles_from_claims({"FrEduFonctAdm": "DIR", "FrEduRneResp": [line]}).director_of == {"0999001K"}
    with pytest.raises(NoRole):
        roles_from_claims({"FrEduFonctAdm": "ADF", "FrEduRneResp": [line]})


def test_establishments_of_excluded_types_are_not_kept() -> None:
    claims = {"FrEduFonctAdm": "DIR", "FrEduRneResp": ["0999001K$UAJ$PU$N$T3$CLG$340", "0999002L$UAJ$PU$N$T3$LYC$340"]}
    assert roles_from_claims(claims).director_of == {"0999002L"}


def test_aplypro_resp_adds_establishments_to_a_director() -> None:
    assert roles_from_claims({"AplyproResp": ["0999003M"]}).director_of == {"0999003M"}


def test_a_delegation_counts_only_for_aplypro() -> None:
    ours = "DELEG-CE|applicationname=aplypro|FrEduRneResp=0999001K$UAJ$PU$N$T3$LP$340"
    theirs = "DELEG-CE|applicationname=other|FrEduRneResp=0999002L$UAJ$PU$N$T3$LP$340"
    roles = roles_from_claims({"FrEduResDel": [ours, theirs]})
    assert roles.authorised_in == {"0999001K"}
    assert roles.director_of == frozenset()


def test_academic_users_admins_and_asp_agents() -> None:
    assert roles_from_claims({"AplyproAcademieResp": ["14"]}).academies == {"14"}
    assert roles_from_claims({"AplyproAcademieResp": "*"}).admin
    assert roles_from_claims({"email": "Agent@ASP-public.fr"}).asp_agent
    assert roles_from_claims({"email": "a@asp.gouv.fr"}).establishments == frozenset()


def test_an_identity_with_nothing_is_refused() -> None:
    with pytest.raises(NoRole):
        roles_from_claims({"email": "someone@example.fr", "FrEduResDel": "garbage"})


def test_roles_survive_the_session_round_trip() -> None:
    roles = Roles(frozenset({"0999001K"}), frozenset({"0999002L"}), frozenset({"14"}), True)
    assert Roles.from_session(roles.to_session()) == roles
