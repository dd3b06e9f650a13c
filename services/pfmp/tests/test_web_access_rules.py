"""Roles from the identity's claims at login (features.md §1), as pure rules."""

from __future__ import annotations

import pytest
from aplypro_pfmp.domain.access import NoRole, RealmKind, Roles, roles_from_claims, within_realm


def test_a_director_line_counts_only_with_the_dir_function() -> None:
    line = "0999001K$UAJ$PU$N$T3$LP$340"
    assert roles_from_claims({"FrEduFonctAdm": "DIR", "FrEduRneResp": [line]}).director_of == {"0999001K"}
    with pytest.raises(NoRole):
        roles_from_claims({"FrEduFonctAdm": "ADF", "FrEduRneResp": [line]})


def test_cas_attribute_names_make_a_director_of_an_agricultural_school() -> None:
    # features.md §1: CAS (MASA) sends `fr_edu_rne_resp` / `fr_edu_fonct_adm` for what FIM calls FrEduRneResp /
    # FrEduFonctAdm.
    line = "0999002L$UAJ$PR$N$T3$LYC$340"
    claims = {"fr_edu_fonct_adm": "DIR", "fr_edu_rne_resp": [line]}
    assert roles_from_claims(claims, realm=RealmKind.SCHOOL).director_of == {"0999002L"}
    with pytest.raises(NoRole):
        roles_from_claims({"fr_edu_fonct_adm": "ADF", "fr_edu_rne_resp": [line]})


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


# Every kind of role at once, as one provider carrying every realm's claims would send it.
EVERYTHING = {"email": "agent@asp-public.fr", "FrEduFonctAdm": "DIR", "FrEduRneResp": ["0999001K$UAJ$PU$N$T3$LP$340"],
              "FrEduResDel": ["DELEG-CE|applicationname=aplypro|FrEduRneResp=0999002L$UAJ$PU$N$T3$LP$340"],
              "AplyproAcademieResp": ["14"]}


def test_each_realm_grants_only_its_own_roles() -> None:
    everything = Roles(frozenset({"0999001K"}), frozenset({"0999002L"}), frozenset({"14"}), True)
    assert roles_from_claims(EVERYTHING, realm=RealmKind.ALL) == everything
    assert roles_from_claims(EVERYTHING) == everything  # the single-provider default
    assert roles_from_claims(EVERYTHING, realm=RealmKind.SCHOOL) == Roles(frozenset({"0999001K"}),
                                                                          frozenset({"0999002L"}))
    assert roles_from_claims(EVERYTHING, realm=RealmKind.ACADEMIC) == Roles(academies=frozenset({"14"}))
    assert roles_from_claims(EVERYTHING, realm=RealmKind.ASP) == Roles(asp_agent=True)
    for realm in RealmKind:
        assert within_realm(everything, realm) == roles_from_claims(EVERYTHING, realm=realm)


def test_invitations_count_only_in_their_own_realm() -> None:
    guest = {"email": "guest@ac-demo.fr"}
    assert roles_from_claims(guest, invited=["0999001K"], realm=RealmKind.SCHOOL).authorised_in == {"0999001K"}
    assert roles_from_claims(guest, invited_academies=["14"], realm=RealmKind.ACADEMIC).academies == {"14"}
    for realm in (RealmKind.ACADEMIC, RealmKind.ASP):
        with pytest.raises(NoRole):
            roles_from_claims(guest, invited=["0999001K"], realm=realm)
    for realm in (RealmKind.SCHOOL, RealmKind.ASP):
        with pytest.raises(NoRole):
            roles_from_claims(guest, invited_academies=["14"], realm=realm)


def test_a_claim_of_another_realm_grants_nothing() -> None:
    with pytest.raises(NoRole):  # an ASP e-mail through FIM or CAS is not an ASP agent
        roles_from_claims({"email": "agent@asp-public.fr"}, realm=RealmKind.SCHOOL)
    with pytest.raises(NoRole):  # an academy code through the ASP realm is ignored
        roles_from_claims({"AplyproAcademieResp": ["*"]}, realm=RealmKind.ASP)
    with pytest.raises(NoRole):  # a director's lines through the academic realm make no director
        roles_from_claims({"FrEduFonctAdm": "DIR", "FrEduRneResp": ["0999001K$UAJ$PU$N$T3$LP$340"]},
                          realm=RealmKind.ACADEMIC)
    with pytest.raises(NoRole):
        roles_from_claims({"email": "a@asp.gouv.fr"}, realm=RealmKind.ACADEMIC)


def test_a_college_is_refused_unless_authorised_by_name() -> None:
    college = "0999004N$UAJ$PU$N$T3$CLG$340"
    with pytest.raises(NoRole):
        roles_from_claims({"FrEduFonctAdm": "DIR", "FrEduRneResp": [college]})
    kept = roles_from_claims({"FrEduFonctAdm": "DIR", "FrEduRneResp": [college, "0999005P$UAJ$PU$N$T3$CLG$340"]},
                             authorised_colleges=["0999004N"])
    assert kept.director_of == {"0999004N"}  # the other collège stays out
    delegation = f"DELEG-CE|applicationname=aplypro|FrEduRneResp={college}"
    assert roles_from_claims({"FrEduResDel": [delegation]}, authorised_colleges=["0999004n"]).authorised_in == {
        "0999004N"}
