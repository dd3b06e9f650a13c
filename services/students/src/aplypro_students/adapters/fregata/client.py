"""Async FREGATA client: every request signed afresh, the flaky 401s retried, 429/5xx/timeouts with backoff.

One endpoint (imports.md §3.2): the establishment's inscriptions for a school year. FREGATA refuses good
signatures now and then (401s that pass after 6-8 tries), so a 401 is retried `auth_retries` times about
`auth_retry_delay` apart before the run fails as an auth failure; 403 fails at once.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import anyio
import httpx2
import structlog

from aplypro_students.adapters.api_errors import (
    ApiAuthFailed,
    ApiBadPayload,
    ApiRequestRefused,
    ApiUnavailable,
)
from aplypro_students.adapters.api_retry import RETRYABLE_STATUS, RetryPolicy, retry_after
from aplypro_students.adapters.fregata.normalise import YEAR_OFFSET
from aplypro_students.adapters.fregata.settings import FregataSettings
from aplypro_students.adapters.fregata.signature import signed_headers

SOURCE = "fregata"
INSCRIPTIONS = "inscriptions"
log = structlog.get_logger(__name__)


def year_id(school_year: int) -> int:
    return school_year - YEAR_OFFSET


class FregataClient:
    """`async with FregataClient(settings) as fregata:` then `await fregata.inscriptions(uai, 2025)`."""

    def __init__(self, settings: FregataSettings) -> None:
        self.policy: RetryPolicy = settings.retry_policy()
        self._settings = settings
        self._http = httpx2.AsyncClient(base_url=settings.base_url.rstrip("/") + "/",
                                        timeout=httpx2.Timeout(settings.timeout))

    async def __aenter__(self) -> FregataClient:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._http.aclose()

    async def inscriptions(self, uai: str, school_year: int) -> list[dict[str, Any]]:
        """Every inscription of the establishment for the year, as served (estEN entries included)."""
        params = {"anneeScolaireId": str(year_id(school_year)), "idStatutApprenant": "2", "rne": uai,
                  "seulementAvecDivision": "true"}
        response = await self._get(INSCRIPTIONS, params)
        if response.status_code == 204:  # an establishment without inscriptions
            return []
        if response.status_code in (401, 403):
            raise ApiAuthFailed(SOURCE, f"status {response.status_code}")
        if response.status_code != 200:
            raise ApiRequestRefused(SOURCE, INSCRIPTIONS, response.status_code)
        try:
            body = response.json()
        except ValueError:
            raise ApiBadPayload(SOURCE, INSCRIPTIONS, "not JSON") from None
        if not isinstance(body, list) or not all(isinstance(e, dict) for e in body):
            raise ApiBadPayload(SOURCE, INSCRIPTIONS, "not a JSON array of objects")
        return body

    async def _get(self, path: str, params: dict[str, str]) -> httpx2.Response:
        """A signed GET; 401 retried on its own budget, 429/5xx/timeouts on the backoff policy's."""
        refusals = attempt = 0
        while True:
            wait: float | None
            try:
                headers = signed_headers(self._settings.key_id, self._settings.secret.get_secret_value())
                response: httpx2.Response = await self._http.get(path, params=params, headers=headers)
            except httpx2.TimeoutException:
                reason, wait = "timeout", None
            except httpx2.TransportError:
                reason, wait = "connection failed", None
            else:
                if response.status_code == 401:
                    refusals += 1
                    if refusals > self._settings.auth_retries:
                        raise ApiAuthFailed(SOURCE, f"401 on {refusals} signed requests in a row")
                    log.warning("fregata_401_retry", resource=path, refusals=refusals)
                    await anyio.sleep(self._settings.auth_retry_delay)
                    continue
                if response.status_code not in RETRYABLE_STATUS:
                    return response
                reason, wait = f"status {response.status_code}", retry_after(response.headers.get("Retry-After"))
            attempt += 1
            if wait is not None and wait > self.policy.max_retry_after:
                raise ApiUnavailable(SOURCE, path, f"{reason}, asked to retry in {wait:.0f} s")
            if attempt >= self.policy.max_attempts:
                raise ApiUnavailable(SOURCE, path, f"{reason} after {attempt} attempts")
            delay = wait if wait is not None else self.policy.backoff(attempt)
            log.warning("fregata_retry", resource=path, reason=reason, attempt=attempt, delay=round(delay, 2))
            await anyio.sleep(delay)
