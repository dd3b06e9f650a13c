"""Async SYGNE client: OAuth2 client credentials (authlib fetches the token; it is renewed `leeway` seconds before
it expires), retries, JSON payloads.

The calls go through aiohttp with the token as a bearer: one detail call a student (650,000 at the start of a
year) made httpx's per-request CPU the students service's largest cost; aiohttp's is about a quarter of it
(bench/http_clients.py). Requests name students in their paths (`eleves/{ine}`), so no URL ever reaches a log or
an exception: the HTTP loggers are silenced and every error is re-raised with the path template only.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
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
for _name in ("httpx", "httpx2", "httpcore", "httpcore2", "aiohttp.client"):  # their INFO lines carry the URL, hence the INE
    logging.getLogger(_name).setLevel(logging.WARNING)
log = structlog.get_logger(__name__)


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY, NO_PROXY...), as httpx reads them for the token
    call, read once: aiohttp's `trust_env` read them, and ~/.netrc, at every call (0.6 CPU-ms each)."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


@dataclass(frozen=True)
class Answer:
    """What a call needs of an HTTP answer, read whole before its connection goes back to the pool."""

    status_code: int
    retry_after: str | None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class SygneClient:
    """`async with SygneClient(settings) as sygne:` then list, detail and history calls."""

    def __init__(self, settings: SygneSettings) -> None:
        self.policy: RetryPolicy = settings.retry_policy()
        self._base_url = settings.base_url
        self._leeway = settings.token_leeway
        # Each phase bounded on its own (a free connection, connecting, each read), as httpx bounded them
        self._timeout = aiohttp.ClientTimeout(total=None, connect=settings.timeout,
                                              sock_connect=settings.timeout, sock_read=settings.timeout)
        self._max_connections = settings.max_connections
        self._proxy = env_proxy(settings.base_url)
        self._session: aiohttp.ClientSession | None = None  # made in the running loop, at the first call
        self._http = AsyncOAuth2Client(  # the token endpoint only
            client_id=settings.client_id, client_secret=settings.secret.get_secret_value(),
            token_endpoint=settings.token_url, grant_type="client_credentials",
            timeout=httpx2.Timeout(settings.timeout))
        self._token_lock = anyio.Lock()

    async def __aenter__(self) -> SygneClient:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()
        await self._http.aclose()

    def _calls(self) -> aiohttp.ClientSession:
        if self._session is None:
            # import-all shares one client between its establishments (4 × 8 calls in flight by default): the
            # pool keeps that many connections alive, so no call opens and closes one of its own
            self._session = aiohttp.ClientSession(
                base_url=self._base_url, timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._max_connections))
        return self._session

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

    async def _call(self, path: str, params: dict[str, str] | None, token: Any) -> Answer:
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        # no redirect followed (httpx followed none): the bearer never goes anywhere else; a 3xx is an error
        async with self._calls().get(path, params=params, headers=headers, allow_redirects=False,
                                     proxy=self._proxy) as response:
            return Answer(response.status, response.headers.get("Retry-After"), await response.read())

    async def _get(self, template: str, path: str, params: dict[str, str] | None) -> Answer:
        """GET with a valid token: 429/5xx/timeouts retried with backoff; one token renewal on a 401."""
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            wait: float | None
            token = await self._token()
            try:
                response = await self._call(path, params, token)
            except TimeoutError:  # aiohttp's timeouts are TimeoutErrors (asyncio's is the same class)
                reason, wait = "timeout", None
            except aiohttp.ClientError:
                reason, wait = "connection failed", None
            else:
                if response.status_code == 401 and not renewed:  # revoked or expired early: renew once
                    renewed = True
                    attempt -= 1
                    await self._renew(token)
                    continue
                if response.status_code not in RETRYABLE_STATUS:
                    return response
                reason, wait = f"status {response.status_code}", retry_after(response.retry_after)
            if wait is not None and wait > self.policy.max_retry_after:
                raise ApiUnavailable(SOURCE, template, f"{reason}, asked to retry in {wait:.0f} s")
            if attempt >= self.policy.max_attempts:
                raise ApiUnavailable(SOURCE, template, f"{reason} after {attempt} attempts")
            delay = wait if wait is not None else self.policy.backoff(attempt)
            log.warning("sygne_retry", resource=template, reason=reason, attempt=attempt, delay=round(delay, 2))
            await anyio.sleep(delay)

    async def _token(self) -> Any:
        """The cached token, fetched on first use and again `leeway` seconds before it expires."""
        token = self._http.token
        if token and "access_token" in token and not token.is_expired(leeway=self._leeway):
            return token  # the usual case, without the lock
        async with self._token_lock:
            token = self._http.token
            # a gateway's 429 page in JSON is taken by authlib as a token without access_token: fetch again
            if not token or "access_token" not in token or token.is_expired(leeway=self._leeway):
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
