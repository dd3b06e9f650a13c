"""The FREGATA client against the fake FREGATA over real HTTP: signature, flaky 401s, 429/5xx, timeouts, settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from aplypro_local.fake_fregata import FakeFregataServer, FakeFregataState, Fault, serve
from aplypro_local.fake_fregata.sample import UAI, YEAR, sample_state
from aplypro_local.fake_fregata.signature import signature_ok
from aplypro_students.adapters.api_errors import (
    ApiAuthFailed,
    ApiBadPayload,
    ApiRequestRefused,
    ApiUnavailable,
)
from aplypro_students.adapters.fregata.client import FregataClient
from aplypro_students.adapters.fregata.settings import FregataSettings
from aplypro_students.adapters.fregata.signature import signed_headers


@pytest.fixture
def fake() -> Iterator[FakeFregataServer]:
    with serve(sample_state()) as server:
        yield server


def settings_for(server: FakeFregataServer, **overrides: object) -> FregataSettings:
    values: dict[str, object] = {"base_url": server.base_url, "key_id": "aplypro", "secret": "fake-fregata-secret",
                                 "backoff_base": 0.05, "auth_retry_delay": 0.02, "timeout": 2.0, **overrides}
    return FregataSettings.model_validate(values)


async def fetch(server: FakeFregataServer, **overrides: object) -> list[dict[str, Any]]:
    async with FregataClient(settings_for(server, **overrides)) as fregata:
        return await fregata.inscriptions(UAI, YEAR)


def test_the_signature_is_the_documented_hmac_sha1_of_the_date_header() -> None:
    now = datetime(2025, 11, 4, 8, 0, tzinfo=UTC)
    headers = signed_headers("aplypro", "s3cret", now)
    assert headers["Date"] == "Tue, 04 Nov 2025 08:00:00 GMT"
    digest = hmac.new(b"s3cret", b"date: Tue, 04 Nov 2025 08:00:00 GMT", hashlib.sha1).digest()
    expected = quote(base64.b64encode(digest).decode(), safe="")
    assert headers["Authorization"] == f"Signature keyId=aplypro,algorithm=hmac-sha1,signature={expected}"
    # the fake's independent check accepts it, and refuses any change to it
    lowered = {k.lower(): v for k, v in headers.items()}
    assert signature_ok(lowered, key_id="aplypro", secret="s3cret", max_skew=60, now=now)
    assert not signature_ok(lowered, key_id="aplypro", secret="other", max_skew=60, now=now)
    assert not signature_ok(lowered, key_id="someone", secret="s3cret", max_skew=60, now=now)
    assert not signature_ok({**lowered, "date": "Tue, 04 Nov 2025 08:00:01 GMT"}, key_id="aplypro",
                            secret="s3cret", max_skew=60, now=now)
    # a signature replayed ten minutes later is refused
    assert not signature_ok(lowered, key_id="aplypro", secret="s3cret", max_skew=300,
                            now=now + timedelta(minutes=10))


async def test_a_signed_request_gets_the_establishment_as_served(fake: FakeFregataServer) -> None:
    served = await fetch(fake)
    assert len(served) == 16  # verbatim: the estEN entry is dropped by the import, not the client
    assert any(e["estEN"] for e in served)
    assert (fake.state.requests["inscriptions"], fake.state.requests["bad_signature"]) == (1, 0)


async def test_the_school_year_is_sent_as_fregatas_year_id(fake: FakeFregataServer) -> None:
    async with FregataClient(settings_for(fake)) as fregata:
        assert await fregata.inscriptions(UAI, 2024) == []  # id 28: nothing there
        assert len(await fregata.inscriptions(UAI, 2025)) == 16  # id 29


async def test_a_wrong_secret_fails_as_an_auth_failure_after_the_401_retries(fake: FakeFregataServer) -> None:
    with pytest.raises(ApiAuthFailed) as caught:
        await fetch(fake, secret="wrong", auth_retries=3)
    assert caught.value.code == "api_auth_failed"
    assert fake.state.requests["bad_signature"] == 4  # the first try and three retries, each signed afresh


async def test_a_burst_of_401s_passes_after_retries_about_a_delay_apart(fake: FakeFregataServer) -> None:
    fake.state.inject(Fault(401, times=7))  # FREGATA's usual: good signatures refused 6-8 times
    started = time.monotonic()
    served = await fetch(fake, auth_retry_delay=0.1)
    assert len(served) == 16
    assert time.monotonic() - started >= 0.7
    assert (fake.state.requests["401"], fake.state.requests["inscriptions"]) == (7, 8)


async def test_more_401s_than_the_budget_fail_the_run_visibly(fake: FakeFregataServer) -> None:
    fake.state.inject(Fault(401, times=50))
    with pytest.raises(ApiAuthFailed, match="401 on 11 signed requests"):
        await fetch(fake)  # the default budget: 10 retries
    assert fake.state.requests["inscriptions"] == 11


async def test_403_is_an_auth_failure_at_once(fake: FakeFregataServer) -> None:
    fake.state.inject(Fault(403, times=5))
    with pytest.raises(ApiAuthFailed):
        await fetch(fake)
    assert fake.state.requests["inscriptions"] == 1


@pytest.mark.parametrize("status", [400, 404])
async def test_a_client_error_is_refused_without_retrying(fake: FakeFregataServer, status: int) -> None:
    fake.state.inject(Fault(status, times=5))
    with pytest.raises(ApiRequestRefused) as caught:
        await fetch(fake)
    assert (caught.value.code, caught.value.status, fake.state.requests["inscriptions"]) == (
        "api_request_refused", status, 1)


async def test_429_is_retried_after_the_delay_the_server_asks(fake: FakeFregataServer) -> None:
    fake.state.inject(Fault(429, times=1, retry_after="1"))
    started = time.monotonic()
    assert len(await fetch(fake)) == 16
    assert time.monotonic() - started >= 0.9  # Retry-After: 1, not the 0.05 s backoff
    assert (fake.state.requests["429"], fake.state.requests["inscriptions"]) == (1, 2)


async def test_a_retry_after_of_an_hour_is_not_waited_for(fake: FakeFregataServer) -> None:
    fake.state.inject(Fault(429, times=1, retry_after="3600"))
    with pytest.raises(ApiUnavailable, match="retry in 3600 s"):
        await fetch(fake)


async def test_504s_are_retried_with_backoff_then_succeed(fake: FakeFregataServer) -> None:
    fake.state.inject(Fault(504, times=3))
    assert len(await fetch(fake)) == 16
    assert (fake.state.requests["504"], fake.state.requests["inscriptions"]) == (3, 4)


async def test_a_server_that_stays_down_ends_with_a_clean_error(fake: FakeFregataServer) -> None:
    fake.state.inject(Fault(504, times=10))
    with pytest.raises(ApiUnavailable) as caught:
        await fetch(fake, max_attempts=3)
    assert (caught.value.code, caught.value.resource) == ("api_unavailable", "inscriptions")
    assert fake.state.requests["inscriptions"] == 3


async def test_a_slow_answer_times_out_and_is_retried(fake: FakeFregataServer) -> None:
    fake.state.inject(Fault(None, times=1, delay=1.5))
    assert len(await fetch(fake, timeout=0.5)) == 16
    assert fake.state.requests["inscriptions"] == 2


async def test_an_answer_that_is_not_an_array_is_a_bad_payload() -> None:
    state = FakeFregataState()
    state.inscriptions[UAI, 29] = {"message": "maintenance"}  # type: ignore[assignment]
    with serve(state) as server, pytest.raises(ApiBadPayload):
        await fetch(server)


async def test_faults_can_be_injected_over_http_for_a_fake_in_another_process(fake: FakeFregataServer) -> None:
    async with httpx2.AsyncClient(base_url=fake.root) as admin:
        answer = await admin.post("_admin/faults", params={"status": "401", "times": "2"})
        assert answer.json() == {"pending": 1}
        await fetch(fake)
        stats = (await admin.get("_admin/stats")).json()
    assert (stats["401"], stats["inscriptions"]) == (2, 3)


def test_settings_come_from_the_documented_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"APLYPRO_FREGATA_BASE_URL": "https://fregata.example/api",
                       "APLYPRO_FREGATA_KEY_ID": "aplypro", "APLYPRO_FREGATA_SECRET": "s3cret"}.items():
        monkeypatch.setenv(key, value)
    settings = FregataSettings()  # from the environment
    assert (settings.base_url, settings.key_id, settings.auth_retries) == ("https://fregata.example/api",
                                                                           "aplypro", 10)
    assert "s3cret" not in repr(settings)
