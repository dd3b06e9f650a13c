"""How every Kafka client of the stack authenticates: one set of settings, one mapping to client options.

PLAINTEXT without authentication is the default (the embedded broker, the demo, the suite). Production
sets `KAFKA_SECURITY_PROTOCOL=SASL_SSL` with one SCRAM principal per service (deploy/k8s). Every producer,
consumer, admin client and faststream broker of the services, the relay and the local tools is built
from `client_kwargs` or `broker_security`, so none of them can connect in plaintext by omission.
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class KafkaSecurityError(ValueError):
    """The Kafka security settings cannot make a working client (a missing password, a key without cert)."""

    code = "kafka_security_invalid"


class KafkaSecurity(BaseSettings):
    """`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*` and `KAFKA_SSL_*`, unprefixed: one value per process."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    security_protocol: Protocol = Field(
        default="PLAINTEXT", description="PLAINTEXT (local), SSL (TLS, optionally mTLS), SASL_SSL (production).")
    sasl_mechanism: Mechanism = "SCRAM-SHA-512"
    sasl_username: str = Field(default="", description="This service's principal (deploy/k8s: its own name).")
    sasl_password: SecretStr = Field(default=SecretStr(""), description="From a Secret; never logged.")
    ssl_cafile: str = Field(default="", description="CA bundle that signed the brokers' certificates; "
                                                    "empty: the system's trust store.")
    ssl_certfile: str = Field(default="", description="Client certificate (mTLS), with ssl_keyfile.")
    ssl_keyfile: str = ""

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def check(self) -> KafkaSecurity:
        """Refuse settings that would connect half-secured or fail at the first handshake."""
        if self.uses_sasl and not (self.sasl_username and self.sasl_password.get_secret_value()):
            raise KafkaSecurityError(f"{self.security_protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise KafkaSecurityError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
        if not self.uses_tls and (self.ssl_cafile or self.ssl_certfile):
            raise KafkaSecurityError(f"KAFKA_SSL_* is set but {self.security_protocol} does not use TLS")
        return self


def ssl_context(security: KafkaSecurity) -> ssl.SSLContext | None:
    """A verifying TLS context (certificate chain and host name) for SSL and SASL_SSL, else None."""
    if not security.uses_tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=security.ssl_cafile or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if security.ssl_certfile:
        context.load_cert_chain(security.ssl_certfile, security.ssl_keyfile)
    return context


def client_kwargs(security: KafkaSecurity | None = None) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient.

    None reads the process environment (the local tools); a service passes its settings' own.
    """
    security = (security or KafkaSecurity()).check()
    kwargs: dict[str, Any] = {"security_protocol": security.security_protocol}
    context = ssl_context(security)
    if context is not None:
        kwargs["ssl_context"] = context
    if security.uses_sasl:
        kwargs |= {"sasl_mechanism": security.sasl_mechanism, "sasl_plain_username": security.sasl_username,
                   "sasl_plain_password": security.sasl_password.get_secret_value()}
    return kwargs


_SASL_CLASSES: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
    "PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512,
}


def broker_security(security: KafkaSecurity | None = None) -> BaseSecurity | None:
    """The same settings as faststream's `KafkaBroker(security=...)` (it maps them to the same kwargs)."""
    security = (security or KafkaSecurity()).check()
    context = ssl_context(security)
    if security.uses_sasl:
        sasl = _SASL_CLASSES[security.sasl_mechanism]
        return sasl(security.sasl_username, security.sasl_password.get_secret_value(),
                    ssl_context=context, use_ssl=security.uses_tls)
    if context is not None:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None
