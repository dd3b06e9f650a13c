"""The web application's login realms and authorised collèges as an operator sets them: environment variables
only (pydantic-settings), every mistake refused at start-up with the variable to fix."""

from __future__ import annotations

import pytest
from aplypro_pfmp.domain.access import RealmKind
from aplypro_pfmp.entrypoints.cli import app
from aplypro_pfmp.entrypoints.web.settings import DEFAULT_REALM, WebSettings
from pydantic import ValidationError
from typer.testing import CliRunner

REALMS = {
    "APLYPRO_WEB_OIDC_REALMS": "fim, cas,academique,asp",
    "APLYPRO_WEB_OIDC_REALM__FIM__KIND": "school",
    "APLYPRO_WEB_OIDC_REALM__FIM__ISSUER": "https://fim.example",
    "APLYPRO_WEB_OIDC_REALM__FIM__CLIENT_ID": "aplypro",
    "APLYPRO_WEB_OIDC_REALM__FIM__CLIENT_SECRET": "fim-secret",
    "APLYPRO_WEB_OIDC_REALM__FIM__LABEL": "Éducation nationale, Mer, Armées",
    "APLYPRO_WEB_OIDC_REALM__CAS__KIND": "school",
    "APLYPRO_WEB_OIDC_REALM__CAS__ISSUER": "https://cas.example",
    "APLYPRO_WEB_OIDC_REALM__CAS__CLIENT_ID": "aplypro",
    "APLYPRO_WEB_OIDC_REALM__ACADEMIQUE__KIND": "academic",
    "APLYPRO_WEB_OIDC_REALM__ACADEMIQUE__ISSUER": "https://academie.example",
    "APLYPRO_WEB_OIDC_REALM__ACADEMIQUE__CLIENT_ID": "aplypro",
    "APLYPRO_WEB_OIDC_REALM__ASP__KIND": "asp",
    "APLYPRO_WEB_OIDC_REALM__ASP__ISSUER": "https://asp.example",
    "APLYPRO_WEB_OIDC_REALM__ASP__CLIENT_ID": "aplypro-asp",
    "APLYPRO_WEB_OIDC_REALM__ASP__SCOPE": "openid email",
}


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_without_realms_the_single_provider_is_the_default_realm_granting_every_role() -> None:
    realms = WebSettings(oidc_issuer="https://proconnect.example", oidc_client_id="c").login_realms()
    assert list(realms) == [DEFAULT_REALM]
    assert realms[DEFAULT_REALM].kind is RealmKind.ALL
    assert realms[DEFAULT_REALM].issuer == "https://proconnect.example"
    assert realms[DEFAULT_REALM].client_secret.get_secret_value() == "local-secret"


def test_realms_come_from_environment_variables_in_the_order_named(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, REALMS)
    realms = WebSettings().login_realms()
    assert list(realms) == ["fim", "cas", "academique", "asp"]
    assert [r.kind for r in realms.values()] == [RealmKind.SCHOOL, RealmKind.SCHOOL, RealmKind.ACADEMIC,
                                                 RealmKind.ASP]
    assert realms["fim"].button == "Éducation nationale, Mer, Armées"
    assert realms["asp"].button == "Agents de l'ASP"  # the kind's label when none is set
    assert realms["fim"].client_secret.get_secret_value() == "fim-secret"
    assert realms["asp"].scope == "openid email"


@pytest.mark.parametrize(("change", "words"), [
    ({"APLYPRO_WEB_OIDC_REALMS": "fim,cas,academique,asp,armees"}, "names armees without its settings"),
    ({"APLYPRO_WEB_OIDC_REALMS": "fim,cas,asp"}, r"ACADEMIQUE__\* is set but 'academique' is not in"),
    ({"APLYPRO_WEB_OIDC_REALMS": "fim,fim"}, "names a realm twice"),
    ({"APLYPRO_WEB_OIDC_REALMS": "fim,c a s"}, "'c a s' is not a realm name"),
    ({"APLYPRO_WEB_OIDC_REALM__ASP__KIND": "everything"}, "kind"),
    ({"APLYPRO_WEB_OIDC_REALM__ASP__ISUER": "https://typo.example"}, "isuer"),
])
def test_a_realm_mistake_refuses_to_start(monkeypatch: pytest.MonkeyPatch, change: dict[str, str],
                                         words: str) -> None:
    set_env(monkeypatch, {**REALMS, **change})
    with pytest.raises(ValidationError, match=words) as refused:
        WebSettings()
    assert "fim-secret" not in str(refused.value)


def test_authorised_colleges_are_uais_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert WebSettings().authorised_colleges == frozenset()
    monkeypatch.setenv("APLYPRO_WEB_AUTHORISED_COLLEGES", " 0999004n, 0999005P,")
    assert WebSettings().authorised_colleges == {"0999004N", "0999005P"}


def test_an_authorised_college_of_a_wrong_shape_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APLYPRO_WEB_AUTHORISED_COLLEGES", "0999004N,099904N")
    with pytest.raises(ValidationError, match=r"'099904N' is not a UAI \(7 digits and a letter"):
        WebSettings()
    # The service itself stops before serving, naming the variable and never echoing another setting's value
    monkeypatch.setenv("APLYPRO_WEB_OIDC_CLIENT_SECRET", "do-not-print-me")
    result = CliRunner().invoke(app, ["web"])
    assert result.exit_code == 2
    assert "APLYPRO_WEB_AUTHORISED_COLLEGES: '099904N' is not a UAI" in result.stderr
    assert "do-not-print-me" not in result.output + result.stderr
