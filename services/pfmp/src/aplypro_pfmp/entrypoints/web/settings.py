"""Settings of the web application (env prefix APLYPRO_WEB_); the database and topics are PfmpSettings'.

Login realms: with `APLYPRO_WEB_OIDC_REALMS` empty, one provider (`APLYPRO_WEB_OIDC_ISSUER`, `_CLIENT_ID`,
`_CLIENT_SECRET`, `_SCOPE`) carries every realm's claims and grants every role (the realm `default`, callback
`/auth/callback`). Otherwise `APLYPRO_WEB_OIDC_REALMS=fim,cas,academique,asp` names the realms in the order of
the login page's buttons, each described by `APLYPRO_WEB_OIDC_REALM__<NAME>__KIND` (school, academic, asp or
all), `__ISSUER`, `__CLIENT_ID`, `__CLIENT_SECRET`, and optionally `__LABEL` and `__SCOPE` (pydantic-settings'
nested variables); its callback is `/auth/callback/<name>`.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aplypro_pfmp.domain.access import RealmKind

DEFAULT_REALM = "default"
REALM_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
UAI = re.compile(r"[0-9]{7}[A-Z]")
# The login page's button when the operator gives no label.
KIND_LABELS = {
    RealmKind.ALL: "Se connecter",
    RealmKind.SCHOOL: "Personnels d'établissement",
    RealmKind.ACADEMIC: "Services académiques et ministère",
    RealmKind.ASP: "Agents de l'ASP",
}


class OidcRealm(BaseModel):
    """One login realm: an OIDC provider and the roles it may grant."""

    # A misspelt variable is an error, not a default; its value (a secret?) is never in the error.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    kind: RealmKind
    issuer: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr = SecretStr("")
    scope: str = "openid email profile"
    label: str = ""

    @property
    def button(self) -> str:
        return self.label or KIND_LABELS[self.kind]


def _comma_separated(value: object) -> object:
    return tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str) else value


class WebSettings(BaseSettings):
    # hide_input_in_errors: a start-up error must not print the secrets beside the mistake.
    model_config = SettingsConfigDict(env_prefix="APLYPRO_WEB_", extra="ignore", env_nested_delimiter="__",
                                      hide_input_in_errors=True)

    oidc_issuer: str = Field(default="http://127.0.0.1:9400",
                             description="OIDC issuer (ProConnect in production); its discovery document is read.")
    oidc_client_id: str = "aplypro-local"
    oidc_client_secret: SecretStr = SecretStr("local-secret")
    oidc_scope: str = "openid email profile"
    # Several login realms (FIM, CAS, academic, ASP: features.md §1); empty: the single provider above.
    oidc_realms: Annotated[tuple[str, ...], NoDecode] = ()
    oidc_realm: dict[str, OidcRealm] = Field(default_factory=dict)
    # The collèges authorised by name (features.md §1): kept whatever their establishment type.
    authorised_colleges: Annotated[frozenset[str], NoDecode] = frozenset()
    # Signs the session cookie; a random default means sessions end when the process restarts, and
    # several processes must share one value.
    session_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    session_max_age_s: int = 8 * 3600  # one working day
    # Secure cookies; browsers accept them on http://127.0.0.1 and localhost, so even the local stack keeps it.
    cookie_secure: bool = True
    login_attempts_per_minute: int = Field(default=10, ge=1,
                                           description="Per client address, on every login and callback route.")
    # The students service's internal API (`aplypro-students api`): RIBs are entered through it (issue 14).
    students_api_url: str = "http://127.0.0.1:8071"
    students_api_token: SecretStr = SecretStr("")  # the students service's APLYPRO_STUDENTS_API_TOKEN
    students_api_timeout_s: float = 10.0
    host: str = "127.0.0.1"
    port: int = 8070
    # /metrics, /healthz, /readyz on a port of their own (on APLYPRO_OPS_HOST), which the Ingress never routes
    # to; 0: none.
    ops_port: int = Field(default=0, ge=0, le=65535)
    # Apply pfmp's migrations at start. Off where the web connects as a role that may not change the schema
    # (deploy/k8s: pfmp_web, data only): `aplypro-pfmp run` migrates, and /readyz waits for it.
    migrate: bool = True
    # The documents service's HTTP API (`aplypro-documents api`): PDFs, zips and merged PDFs come from there.
    documents_url: str = "http://127.0.0.1:8072"
    documents_token: SecretStr = SecretStr("")  # the same value as APLYPRO_DOCUMENTS_API_TOKEN
    documents_timeout_s: float = 30.0  # one PDF or one progress poll; zips are built in the background

    @field_validator("oidc_realms", mode="before")
    @classmethod
    def _realm_names(cls, value: object) -> object:
        names = _comma_separated(value)
        if isinstance(names, tuple | list):
            names = tuple(str(n).strip().lower() for n in names)
            for name in names:
                if not REALM_NAME.fullmatch(name):
                    raise ValueError(f"APLYPRO_WEB_OIDC_REALMS: {name!r} is not a realm name (lower-case letters, "
                                     "digits and '-', starting with a letter, at most 32)")
            if len(set(names)) != len(names):
                raise ValueError("APLYPRO_WEB_OIDC_REALMS names a realm twice")
        return names

    @field_validator("authorised_colleges", mode="before")
    @classmethod
    def _uais(cls, value: object) -> object:
        uais = _comma_separated(value)
        if isinstance(uais, tuple | list | set | frozenset):
            uais = frozenset(str(u).strip().upper() for u in uais)
            wrong = sorted(u for u in uais if not UAI.fullmatch(u))
            if wrong:
                what = "is not a UAI" if len(wrong) == 1 else "are not UAIs"
                raise ValueError(f"APLYPRO_WEB_AUTHORISED_COLLEGES: {', '.join(repr(u) for u in wrong)} {what} "
                                 "(7 digits and a letter, e.g. 0999001K)")
        return uais

    @model_validator(mode="after")
    def _every_realm_described(self) -> WebSettings:
        named, described = set(self.oidc_realms), set(self.oidc_realm)
        if missing := sorted(named - described):
            raise ValueError(f"APLYPRO_WEB_OIDC_REALMS names {', '.join(missing)} without its settings: set "
                             f"APLYPRO_WEB_OIDC_REALM__{missing[0].upper()}__KIND, __ISSUER, __CLIENT_ID and "
                             "__CLIENT_SECRET")
        if unnamed := sorted(described - named):
            raise ValueError(f"APLYPRO_WEB_OIDC_REALM__{unnamed[0].upper()}__* is set but "
                             f"{unnamed[0]!r} is not in APLYPRO_WEB_OIDC_REALMS (a misspelt name?)")
        return self

    def login_realms(self) -> dict[str, OidcRealm]:
        """The realms users log in through, in the login page's order; the single provider when none is named."""
        if not self.oidc_realms:
            return {DEFAULT_REALM: OidcRealm(kind=RealmKind.ALL, issuer=self.oidc_issuer,
                                             client_id=self.oidc_client_id, client_secret=self.oidc_client_secret,
                                             scope=self.oidc_scope)}
        return {name: self.oidc_realm[name] for name in self.oidc_realms}
