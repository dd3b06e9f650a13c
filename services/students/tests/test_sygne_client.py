"""The SYGNE client against the fake SYGNE over real HTTP: token kept and renewed, retries, 404, settings."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import httpx2
import pytest
from aplypro_local.fake_sygne import FakeSygneServer, FakeSygneState, Fault, serve
from aplypro_local.fake_sygne.sample import detail_of, list_entry, sample_state
from aplypro_students.adapters.api_errors import ApiAuthFailed, ApiUnavailable, IneNotFound
from aplypro_students.adapters.sygne.client import SygneClient, env_proxy
from aplypro_students.adapters.sygne.settings import SygneSettings
from pydantic import ValidationError

UAI, YEAR = "0999001K", 2025
CHLOE = "000111222AA"
PERSONAL = ("000111222", "000111233", "FONTAINE", "Chloé", "2008-04-17", "Tilleuls")


@pytest.fixture
def fake() -> Iterator[FakeSygneServer]:
    with serve(sample_state()) as server:
        yield server


def settings_for(server: FakeSygneServer, **overrides: object) -> SygneSettings:
    values: dict[str, object] = {"base_url": server.base_url, "token_url": server.token_url,
                                 "client_id": "aplypro", "secret": "fake-sygne-secret", "backoff_base": 0.05,
                                 "timeout": 2.0, **overrides}
    return SygneSettings.model_validate(values)


async def test_one_token_serves_many_calls(fake: FakeSygneServer) -> None:
    async with SygneClient(settings_for(fake)) as sygne:
        listed = await sygne.establishment_students(UAI, YEAR)
        detail = await sygne.student(CHLOE)
        for _ in range(5):
            await sygne.history("000111226AE")
    assert len(listed) == 11
    assert (detail["prenom1"], detail["prenom2"]) == ("Chloé", "Anne")
    assert fake.state.requests["token"] == 1  # cached, not one token per call
    assert (fake.state.requests["list"], fake.state.requests["detail"], fake.state.requests["history"]) == (1, 1, 5)


async def test_the_token_is_renewed_shortly_before_it_expires(fake: FakeSygneServer) -> None:
    fake.state.token_ttl = 3  # with a 2 s leeway the client renews after ~1 s, before the fake refuses it
    async with SygneClient(settings_for(fake, token_leeway=2)) as sygne:
        await sygne.student(CHLOE)
        await anyio.sleep(1.2)
        await sygne.student(CHLOE)
    assert fake.state.requests["token"] == 2
    assert fake.state.requests["401"] == 0  # renewed ahead of time, never refused


async def test_a_revoked_token_gets_one_401_then_a_new_token(fake: FakeSygneServer) -> None:
    async with SygneClient(settings_for(fake)) as sygne:
        await sygne.student(CHLOE)
        fake.state.revoke_tokens()  # SYGNE forgets its tokens (restart, early expiry)
        detail = await sygne.student(CHLOE)
    assert detail["ine"] == CHLOE
    assert (fake.state.requests["token"], fake.state.requests["401"]) == (2, 1)


async def test_wrong_credentials_fail_without_retrying_forever(fake: FakeSygneServer) -> None:
    async with SygneClient(settings_for(fake, secret="wrong")) as sygne:
        with pytest.raises(ApiAuthFailed) as caught:
            await sygne.student(CHLOE)
    assert caught.value.code == "api_auth_failed"
    assert fake.state.requests["token"] == 0  # the fake counts only granted tokens


async def test_429_is_retried_after_the_delay_the_server_asks(fake: FakeSygneServer) -> None:
    fake.state.inject(Fault(429, times=1, path="scolarites", retry_after="1"))
    async with SygneClient(settings_for(fake)) as sygne:
        started = time.monotonic()
        history = await sygne.history("000111226AE")
        waited = time.monotonic() - started
    assert history[0]["dateFinSco"] == "2025-12-19"
    assert waited >= 0.9  # Retry-After: 1, not the 0.05 s backoff
    assert (fake.state.requests["429"], fake.state.requests["history"]) == (1, 2)


async def test_504s_are_retried_with_backoff_then_succeed(fake: FakeSygneServer) -> None:
    fake.state.inject(Fault(504, times=3, path="etablissements"))
    async with SygneClient(settings_for(fake)) as sygne:
        listed = await sygne.establishment_students(UAI, YEAR)
    assert len(listed) == 11
    assert (fake.state.requests["504"], fake.state.requests["list"]) == (3, 4)


async def test_a_server_that_stays_down_ends_the_call_with_a_clean_error(fake: FakeSygneServer) -> None:
    fake.state.inject(Fault(503, times=10, path="eleves/"))
    async with SygneClient(settings_for(fake, max_attempts=3)) as sygne:
        with pytest.raises(ApiUnavailable) as caught:
            await sygne.student(CHLOE)
    assert fake.state.requests["detail"] == 3
    assert (caught.value.code, caught.value.resource) == ("api_unavailable", "eleves/{ine}")
    assert not any(p in str(caught.value) for p in PERSONAL)  # the path template, never the INE


async def test_a_retry_after_of_an_hour_is_not_waited_for(fake: FakeSygneServer) -> None:
    fake.state.inject(Fault(429, times=1, path="scolarites", retry_after="3600"))
    async with SygneClient(settings_for(fake)) as sygne:
        with pytest.raises(ApiUnavailable, match="retry in 3600 s"):
            await sygne.history("000111226AE")


async def test_a_slow_answer_times_out_and_is_retried(fake: FakeSygneServer) -> None:
    fake.state.inject(Fault(None, times=1, path="eleves/", delay=1.5))
    async with SygneClient(settings_for(fake, timeout=0.5)) as sygne:
        detail = await sygne.student(CHLOE)
    assert detail["ine"] == CHLOE
    assert fake.state.requests["detail"] == 2


async def test_an_unknown_ine_is_ine_not_found(fake: FakeSygneServer) -> None:
    async with SygneClient(settings_for(fake)) as sygne:
        with pytest.raises(IneNotFound) as caught:
            await sygne.student("000111233AM")
    assert caught.value.code == "ine_not_found"
    assert not any(p in str(caught.value) for p in PERSONAL)


async def test_awkward_payloads_are_served_verbatim() -> None:
    state = FakeSygneState()
    entry = list_entry("000111222AA", "FONTAINE", "Chloé", "2008-04-17", classe=None, dateDebSco=...)
    state.add_student(entry, detail=detail_of(entry))
    with serve(state) as server:
        async with SygneClient(settings_for(server)) as sygne:
            (listed,) = await sygne.establishment_students(UAI, YEAR)
    assert listed["classe"] is None
    assert "dateDebSco" not in listed


def test_the_base_url_must_end_with_a_slash() -> None:
    with pytest.raises(ValidationError, match="APLYPRO_SYGNE_BASE_URL must end with '/'"):
        SygneSettings.model_validate({"base_url": "https://sygne.example/api", "token_url": "https://t/",
                                      "client_id": "c", "secret": "s"})


def test_settings_come_from_the_documented_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"APLYPRO_SYGNE_BASE_URL": "https://sygne.example/api/", "APLYPRO_SYGNE_TOKEN_URL":
                       "https://sygne.example/token", "APLYPRO_SYGNE_CLIENT_ID": "id",
                       "APLYPRO_SYGNE_SECRET": "s3cret"}.items():
        monkeypatch.setenv(key, value)
    settings = SygneSettings()  # from the environment
    assert (settings.base_url, settings.client_id, settings.summer_freeze) == ("https://sygne.example/api/", "id",
                                                                               True)
    assert "s3cret" not in repr(settings)
    monkeypatch.setenv("APLYPRO_SYGNE_SUMMER_FREEZE", "false")
    assert SygneSettings().summer_freeze is False


async def test_faults_can_be_injected_over_http_for_a_fake_in_another_process(fake: FakeSygneServer) -> None:
    async with httpx2.AsyncClient(base_url=fake.root) as admin:
        answer = await admin.post("_admin/faults", params={"status": "504", "times": "1", "path": "etablissements"})
        assert answer.json() == {"pending": 1}
        async with SygneClient(settings_for(fake)) as sygne:
            await sygne.establishment_students(UAI, YEAR)
        stats = (await admin.get("_admin/stats")).json()
    assert (stats["504"], stats["list"], stats["token"]) == (1, 2, 1)


async def test_a_failing_token_endpoint_is_retried_too(fake: FakeSygneServer) -> None:
    fake.state.inject(Fault(503, times=2, path="token"))
    async with SygneClient(settings_for(fake)) as sygne:
        assert (await sygne.student(CHLOE))["ine"] == CHLOE
    assert (fake.state.requests["token_fault"], fake.state.requests["token"]) == (2, 1)


async def test_a_renewal_ahead_of_expiry_that_fails_once_is_retried(fake: FakeSygneServer) -> None:
    fake.state.token_ttl = 3
    async with SygneClient(settings_for(fake, token_leeway=2)) as sygne:
        await sygne.student(CHLOE)
        await anyio.sleep(1.2)  # the token is now within the leeway: authlib renews it inside the next call
        fake.state.inject(Fault(503, times=1, path="token"))
        assert (await sygne.student(CHLOE))["ine"] == CHLOE
    assert (fake.state.requests["token_fault"], fake.state.requests["token"], fake.state.requests["401"]) == (1, 2, 0)


async def test_a_token_endpoint_refusing_our_client_is_an_auth_failure(fake: FakeSygneServer) -> None:
    fake.state.token_ttl = 3
    async with SygneClient(settings_for(fake, token_leeway=2)) as sygne:
        await sygne.student(CHLOE)
        await anyio.sleep(1.2)
        fake.state.inject(Fault(401, times=5, path="token"))  # our credentials were revoked meanwhile
        with pytest.raises(ApiAuthFailed) as caught:
            await sygne.student(CHLOE)
    assert "token endpoint said invalid_client" in str(caught.value)


def test_the_environments_proxy_is_the_one_for_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert env_proxy("https://sygne.example/api/v1/") is None
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    assert env_proxy("https://sygne.example/api/v1/") == "http://proxy.example:3128"
    assert env_proxy("http://sygne.example/api/v1/") is None  # no proxy named for plain http
    monkeypatch.setenv("no_proxy", "sygne.example")
    assert env_proxy("https://sygne.example/api/v1/") is None
