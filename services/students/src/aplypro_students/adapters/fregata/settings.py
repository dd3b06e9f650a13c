"""Settings of the FREGATA client (env prefix APLYPRO_FREGATA_)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from aplypro_students.adapters.api_retry import RetryPolicy


class FregataSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_FREGATA_", extra="ignore")

    base_url: str  # `{base_url}/inscriptions` is the one endpoint; a trailing `/` is accepted
    key_id: str
    secret: SecretStr
    timeout: float = 60.0  # seconds per request: one answer is a whole establishment
    max_attempts: int = 5  # 429, 5xx, timeouts and dropped connections, with backoff
    backoff_base: float = 0.5
    max_retry_after: float = 120.0  # a longer Retry-After ends the run: it is retried later, not held
    auth_retries: int = 10  # FREGATA answers 401 to good signatures, passing after 6-8 tries (imports.md §3.2)
    auth_retry_delay: float = 1.0  # seconds between those tries

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, base_delay=self.backoff_base,
                           max_retry_after=self.max_retry_after)
