"""Settings of the web application (env prefix APLYPRO_WEB_); the database and topics are PfmpSettings'."""

from __future__ import annotations

import secrets

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_WEB_", extra="ignore")

    oidc_issuer: str = Field(default="http://127.0.0.1:9400",
                             description="OIDC issuer (ProConnect in production); its discovery document is read.")
    oidc_client_id: str = "aplypro-local"
    oidc_client_secret: SecretStr = SecretStr("local-secret")
    oidc_scope: str = "openid email profile"
    # Signs the session cookie; a random default means sessions end when the process restarts, and
    # several processes must share one value.
    session_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    session_max_age_s: int = 8 * 3600  # one working day
    # Secure cookies; browsers accept them on http://127.0.0.1 and localhost, so even the local stack keeps it.
    cookie_secure: bool = True
    login_attempts_per_minute: int = Field(default=10, ge=1,
                                           description="Per client address, on /connexion and /auth/callback.")
    # The students service's internal API (`aplypro-students api`): RIBs are entered through it (issue 14).
    students_api_url: str = "http://127.0.0.1:8071"
    students_api_token: SecretStr = SecretStr("")  # the students service's APLYPRO_STUDENTS_API_TOKEN
    students_api_timeout_s: float = 10.0
    host: str = "127.0.0.1"
    port: int = 8070
    # The documents service's HTTP API (`aplypro-documents api`): PDFs, zips and merged PDFs come from there.
    documents_url: str = "http://127.0.0.1:8072"
    documents_token: SecretStr = SecretStr("")  # the same value as APLYPRO_DOCUMENTS_API_TOKEN
    documents_timeout_s: float = 30.0  # one PDF or one progress poll; zips are built in the background
