"""Async SYGNE client: OAuth2 client credentials (authlib keeps and renews the token), retries, JSON payloads.

Requests name students in their paths (`eleves/{ine}`), so no URL ever reaches a log or an exception: the
httpx logger is silenced and every error is re-raised with the path template only.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import anyio
import httpx2
import structlog
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from aplypro_students.adapters.api_errors import ApiAuthFailed, ApiBadPayload, ApiUnavailable, IneNotFound
from aplypro_students.adapters.api_retry import RETRYABLE_STATUS, RetryPolicy, retry_after
from aplypro_students.adapters.sygne.settings import SygneSettings

SOURCE = "sygne"
LIST, DETAIL, HISTORY = "etablissements/{uai}/eleves", "eleves/{ine}", "eleves/{ine}/scolarites"
for _name in ("httpx", "httpx2", "httpcore", "httpcore2"):  # their INFO lines carry the URL, hence the INE
    logging.getLogger(_name).setLevel(logging.WARNING)
log = structlog.get_logger(__name__)


class SygneClient:
    """`async with SygneClient(settings) as sygne:` then list, detail and history calls."""

    def __init__(self, settings: SygneSettings) -> None:
        self.policy: RetryPolicy = settings.retry_policy()
        self._http = AsyncOAuth2Client(
            client_id=settings.client_id, client_secret=settings.secret.get_secret_value(),
            token_endpoint=settings.token_url, grant_type="client_credentials", leeway=settings.token_leeway,
            base_url=settings.base_url, timeout=httpx2.Timeout(settings.timeout),
            # import-all shares one client between its establishments (4 × 8 calls in flight by default): with
            # httpx's 20 kept-alive connections, every call past the 20th opened and closed a connection
            limits=httpx2.Limits(max_connections=settings.max_connections,
                                 max_keepalive_connections=settings.max_connections),
        )
        self._token_lock = anyio.Lock()

    async def __aenter__(self) -> SygneClient:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._http.aclose()

    async def establishment_students(self, uai: str, school_year: int) -> list[dict[str, Any]]:
        """Every *scolaire* student of the establishment for the year (`statut=ST` only, imports.md §3.1)."""
        body = await self._json(LIST, f"etablissements/{uai}/eleves",
                                {"annee-scolaire": str(school_year), "statut": "ST"})
        if not isinstance(body, list) or not all(isinstance(e, dict) for e in body):
            raise ApiBadPayload(SOURCE, LIST, "not a JSON array of objects")
        return body

    async def student(self, ine: str) -> dict[str, Any]:
        """Identity, residence address, birthplace and current schooling; IneNotFound on 404."""
        body = await self._json(DETAIL, f"eleves/{ine}", not_found=IneNotFound(SOURCE))
        if not isinstance(body, dict):
            raise ApiBadPayload(SOURCE, DETAIL, "not a JSON object")
        return body

    async def history(self, ine: str) -> list[dict[str, Any]]:
        """Every schooling of the student with its real dates; IneNotFound on 404."""
        body = await self._json(HISTORY, f"eleves/{ine}/scolarites", not_found=IneNotFound(SOURCE))
        rows = body.get("scolarites") if isinstance(body, dict) else None
        if not isinstance(rows, list) or not all(isinstance(e, dict) for e in rows):
            raise ApiBadPayload(SOURCE, HISTORY, "no `scolarites` array of objects")
        return rows

    async def _json(self, template: str, path: str, params: dict[str, str] | None = None, *,
                    not_found: Exception | None = None) -> Any:
        response = await self._get(template, path, params)
        if response.status_code == 404 and not_found is not None:
            raise not_found
        if response.status_code in (401, 403):
            raise ApiAuthFailed(SOURCE, f"{response.status_code} with a fresh token")
        if response.status_code != 200:
            raise ApiUnavailable(SOURCE, template, f"status {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise ApiBadPayload(SOURCE, template, "not JSON") from None

    async def _get(self, template: str, path: str, params: dict[str, str] | None) -> httpx2.Response:
        """GET with a valid token: 429/5xx/timeouts retried with backoff; one token renewal on a 401."""
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            wait: float | None
            try:
                token = await self._token()
                response: httpx2.Response = await self._http.get(path, params=params)
            except httpx2.TimeoutException:
                reason, wait = "timeout", None
            except httpx2.TransportError:
                reason, wait = "connection failed", None
            except OAuthError as exc:  # the ahead-of-expiry renewal authlib makes inside the call
                raise ApiAuthFailed(SOURCE, f"token endpoint said {exc.error}") from None
            except httpx2.HTTPStatusError as exc:  # same renewal, the token endpoint failing
                if exc.response.status_code not in RETRYABLE_STATUS:
                    raise ApiAuthFailed(SOURCE, f"token endpoint status {exc.response.status_code}") from None
                reason, wait = f"token endpoint status {exc.response.status_code}", None
            else:
                if response.status_code == 401 and not renewed:  # revoked or expired early: renew once
                    renewed = True
                    attempt -= 1
                    await self._renew(token)
                    continue
                if response.status_code not in RETRYABLE_STATUS:
                    return response
                reason, wait = f"status {response.status_code}", retry_after(response.headers.get("Retry-After"))
            if wait is not None and wait > self.policy.max_retry_after:
                raise ApiUnavailable(SOURCE, template, f"{reason}, asked to retry in {wait:.0f} s")
            if attempt >= self.policy.max_attempts:
                raise ApiUnavailable(SOURCE, template, f"{reason} after {attempt} attempts")
            delay = wait if wait is not None else self.policy.backoff(attempt)
            log.warning("sygne_retry", resource=template, reason=reason, attempt=attempt, delay=round(delay, 2))
            await anyio.sleep(delay)

    async def _token(self) -> object:
        """The cached token, fetched on first use; authlib renews it `leeway` seconds before it expires."""
        async with self._token_lock:
            # a gateway's 429 page in JSON is taken by authlib as a token without access_token: fetch again
            if not self._http.token or "access_token" not in self._http.token:
                await self._fetch_token()
            return self._http.token

    async def _renew(self, stale: object) -> None:
        async with self._token_lock:
            if self._http.token is stale:  # else a concurrent call renewed it already
                await self._fetch_token()

    async def _fetch_token(self) -> None:
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                token = await self._http.fetch_token()
                if "access_token" in token:
                    log.info("sygne_token_fetched")
                    return
                reason = "token endpoint answered without a token"
            except OAuthError as exc:
                raise ApiAuthFailed(SOURCE, f"token endpoint said {exc.error}") from None
            except httpx2.HTTPStatusError as exc:
                if exc.response.status_code not in RETRYABLE_STATUS:
                    raise ApiAuthFailed(SOURCE, f"token endpoint status {exc.response.status_code}") from None
                reason = f"token endpoint status {exc.response.status_code}"
            except httpx2.TransportError:
                reason = "token endpoint unreachable"
            if attempt < self.policy.max_attempts:
                await anyio.sleep(self.policy.backoff(attempt))
        raise ApiUnavailable(SOURCE, "token", reason)
