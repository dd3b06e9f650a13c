"""Settings of the SYGNE client (env prefix APLYPRO_SYGNE_)."""

from __future__ import annotations

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aplypro_students.adapters.api_retry import RetryPolicy


class SygneSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_SYGNE_", extra="ignore")

    base_url: str
    token_url: str
    client_id: str
    secret: SecretStr
    summer_freeze: bool = True  # 1 June - 31 August: SYGNE's data is in flux, imports are off (imports.md §3.1)
    timeout: float = 30.0  # seconds per request (connect, read, write, pool)
    max_attempts: int = 5
    backoff_base: float = 0.5
    max_retry_after: float = 120.0  # a longer Retry-After ends the call: the run is retried later, not held
    token_leeway: int = 30  # renew the ~600 s token this many seconds before it expires
    concurrency: int = 8  # detail and history calls in flight at once
    max_connections: int = 64  # kept alive too; ≥ establishments at once × concurrency, else connections churn

    @field_validator("base_url")
    @classmethod
    def _ends_with_slash(cls, value: str) -> str:
        # paths such as `eleves/{ine}` are joined to it: without the slash the last segment would be replaced
        if not value.endswith("/"):
            raise ValueError("APLYPRO_SYGNE_BASE_URL must end with '/' (e.g. https://host/api/v1/)")
        return value

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, base_delay=self.backoff_base,
                           max_retry_after=self.max_retry_after)
