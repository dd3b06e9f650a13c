"""Settings → Kafka client options: what each KAFKA_SECURITY_PROTOCOL gives aiokafka and faststream."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from aplypro_servicekit.kafka import make_producer
from aplypro_servicekit.kafka_security import (
    KafkaSecurity,
    KafkaSecurityError,
    broker_security,
    client_kwargs,
)
from aplypro_servicekit.settings import ServiceSettings
from faststream.kafka.security import parse_security
from faststream.security import SASLScram512

PASSWORD = "test-only-password"


def _ca_file(directory: Path) -> Path:
    """A self-signed CA certificate in PEM (only its loading is under test)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aplypro test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / "ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_the_default_is_plaintext_without_authentication(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CAFILE"):
        monkeypatch.delenv(name, raising=False)
    assert client_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert broker_security() is None
    assert ServiceSettings().kafka_security == KafkaSecurity()
    assert ServiceSettings().create_topics is True


def test_sasl_ssl_gives_a_verifying_tls_context_and_scram_credentials(tmp_path: Path) -> None:
    security = KafkaSecurity(security_protocol="SASL_SSL", sasl_username="students", sasl_password=PASSWORD,
                             ssl_cafile=str(_ca_file(tmp_path)))
    kwargs = client_kwargs(security)
    context = kwargs.pop("ssl_context")
    assert kwargs == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                      "sasl_plain_username": "students", "sasl_plain_password": PASSWORD}
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "aplypro test CA"),),)]


def test_faststream_gets_the_same_options_as_the_aiokafka_clients(tmp_path: Path) -> None:
    security = KafkaSecurity(security_protocol="SASL_SSL", sasl_username="pfmp", sasl_password=PASSWORD,
                             ssl_cafile=str(_ca_file(tmp_path)))
    broker = broker_security(security)
    assert isinstance(broker, SASLScram512)
    options = parse_security(broker)  # what faststream hands to aiokafka
    assert {k: v for k, v in options.items() if k != "ssl_context"} == {
        k: v for k, v in client_kwargs(security).items() if k != "ssl_context"}
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_ssl_alone_is_tls_without_sasl_and_sasl_plaintext_is_sasl_without_tls() -> None:
    tls = client_kwargs(KafkaSecurity(security_protocol="SSL"))
    assert tls["security_protocol"] == "SSL"
    assert isinstance(tls["ssl_context"], ssl.SSLContext)  # the system trust store
    assert "sasl_mechanism" not in tls
    sasl = client_kwargs(KafkaSecurity(security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password="p"))
    assert "ssl_context" not in sasl
    assert sasl["sasl_mechanism"] == "SCRAM-SHA-512"
    assert parse_security(broker_security(KafkaSecurity(security_protocol="SSL")))["security_protocol"] == "SSL"


def test_the_settings_are_read_from_the_environment_by_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "calculator")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("APLYPRO_CREATE_TOPICS", "false")
    settings = ServiceSettings()
    assert settings.create_topics is False
    assert client_kwargs(settings.kafka_security)["sasl_mechanism"] == "SCRAM-SHA-256"
    assert client_kwargs()["sasl_plain_username"] == "calculator"  # the local tools read the same variables
    # The password never shows in a repr or a log of the settings.
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.model_dump())


async def test_the_relay_producer_carries_the_settings() -> None:
    producer = make_producer("127.0.0.1:1", security=KafkaSecurity(
        security_protocol="SASL_PLAINTEXT", sasl_username="documents", sasl_password=PASSWORD))
    try:
        assert producer.client._security_protocol == "SASL_PLAINTEXT"
        assert producer.client._sasl_plain_username == "documents"
    finally:
        await producer.stop()


@pytest.mark.parametrize(("fields", "message"), [
    ({"security_protocol": "SASL_SSL", "sasl_username": "students"}, "KAFKA_SASL_PASSWORD"),
    ({"security_protocol": "SASL_SSL", "sasl_password": PASSWORD}, "KAFKA_SASL_USERNAME"),
    ({"security_protocol": "SSL", "ssl_certfile": "/c.pem"}, "KAFKA_SSL_KEYFILE"),
    ({"security_protocol": "PLAINTEXT", "ssl_cafile": "/ca.crt"}, "does not use TLS"),
])
def test_half_configured_security_is_refused_before_connecting(fields: dict[str, str], message: str) -> None:
    with pytest.raises(KafkaSecurityError, match=message) as refused:
        client_kwargs(KafkaSecurity(**fields))  # type: ignore[arg-type]
    assert refused.value.code == "kafka_security_invalid"
    assert PASSWORD not in str(refused.value)
