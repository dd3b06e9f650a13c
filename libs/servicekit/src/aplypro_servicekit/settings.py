"""Settings shared by every service: where the broker and the database are, how to batch."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .kafka_security import KafkaSecurity
from .record_size import DEFAULT_MAX_RECORD_BYTES


def _shared(name: str) -> AliasChoices:
    # Shared settings are read unprefixed (one value for the whole stack); each service adds its prefix
    # for its own fields through `env_prefix`.
    return AliasChoices(name.lower(), name)


class ServiceSettings(BaseSettings):
    """Base settings; each service subclasses it with `env_prefix="APLYPRO_<SERVICE>_"`."""

    model_config = SettingsConfigDict(env_prefix="APLYPRO_", extra="ignore")

    service_name: str = "service"
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias=_shared("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_security: KafkaSecurity = Field(
        default_factory=KafkaSecurity,
        description="KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* (kafka_security.py); PLAINTEXT by default.",
    )
    create_topics: bool = Field(
        default=True, validation_alias=_shared("APLYPRO_CREATE_TOPICS"),
        description="Create missing topics at start. False where topics are made beforehand and the "
                    "service's principal may not create or even see other topics (deploy/k8s).",
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres", validation_alias=_shared("DATABASE_URL")
    )
    topic_namespace: str = Field(
        default="",
        validation_alias=_shared("APLYPRO_TOPIC_NAMESPACE"),
        description="Prefix of every topic and consumer group; tests use it to stay isolated.",
    )
    topic_partitions: int = Field(default=4, validation_alias=_shared("APLYPRO_TOPIC_PARTITIONS"))
    topic_replication_factor: int = Field(
        default=1, validation_alias=_shared("APLYPRO_TOPIC_REPLICATION_FACTOR"),
        description="Replicas of topics a service creates; 3 on a production cluster (min ISR 2).",
    )
    consumer_max_records: int = Field(default=500, validation_alias=_shared("APLYPRO_CONSUMER_MAX_RECORDS"))
    consumer_lanes: int = Field(
        default=2, ge=1, validation_alias=_shared("APLYPRO_CONSUMER_LANES"),
        description="Transactions a consumer runs side by side on one batch, split by partition number and key.",
    )
    consumer_processes: int = Field(
        default=1, ge=1, validation_alias=_shared("APLYPRO_CONSUMER_PROCESSES"),
        description="Consumer processes of one instance (one core each); they share the partitions.",
    )
    session_timeout_ms: int = Field(default=10_000, validation_alias=_shared("APLYPRO_SESSION_TIMEOUT_MS"))
    kafka_leave_group: bool = Field(
        default=False, validation_alias=_shared("APLYPRO_KAFKA_LEAVE_GROUP"),
        description="Send LeaveGroup when a consumer stops. Off by default: the embedded broker's "
                    "group breaks for good when its leader leaves mid-rebalance (group_leave.py); "
                    "true is safe, and faster, on Apache Kafka.",
    )
    relay_batch_size: int = Field(default=5000, validation_alias=_shared("APLYPRO_RELAY_BATCH_SIZE"))
    relay_process: bool = Field(
        default=False, validation_alias=_shared("APLYPRO_RELAY_PROCESS"),
        description="Run the outbox relay in a child process (another core) instead of a task of the service.",
    )
    transient_attempts: int = Field(
        default=6, validation_alias=_shared("APLYPRO_TRANSIENT_ATTEMPTS"),
        description="Tries of a batch that fails on a transient error before it is nacked and re-read.",
    )
    max_record_bytes: int = Field(
        default=DEFAULT_MAX_RECORD_BYTES, gt=0, validation_alias=_shared("APLYPRO_MAX_RECORD_BYTES"),
        description="Largest Kafka record a service writes (key, value, headers); keep it under the "
                    "broker's message.max.bytes. The outbox refuses bigger ones; the relay parks them.",
    )
    stack_ops_port: int = Field(
        default=0, ge=0, le=65535, validation_alias=_shared("APLYPRO_OPS_PORT"),
        description="Port of /metrics, /healthz and /readyz (ops_server.py) for every service; 0: none.",
    )
    ops_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="This service's own ops port (APLYPRO_<SERVICE>_OPS_PORT), over APLYPRO_OPS_PORT: "
                    "services sharing one host (the local stack) each need their own.",
    )
    ops_host: str = Field(
        default="127.0.0.1", validation_alias=_shared("APLYPRO_OPS_HOST"),
        description="Address the ops port listens on; 0.0.0.0 in a pod, so the kubelet and Prometheus reach it.",
    )
    ops_metrics_dir: str = Field(
        default="", description="Set by the main process for its children: where they leave their metrics.",
    )
    otel_enabled: bool = Field(
        default=False, validation_alias=_shared("APLYPRO_OTEL_ENABLED"),
        description="Export OpenTelemetry traces over OTLP/HTTP (tracing.py) to OTEL_EXPORTER_OTLP_ENDPOINT; "
                    "off: nothing of OpenTelemetry is loaded.",
    )
    log_level: str = Field(default="INFO", validation_alias=_shared("APLYPRO_LOG_LEVEL"))
    log_json: bool = Field(default=True, validation_alias=_shared("APLYPRO_LOG_JSON"))
    db_pool_size: int = 5

    @property
    def ops_listen_port(self) -> int:
        """The ops port this service listens on (0: no ops server)."""
        return self.stack_ops_port if self.ops_port is None else self.ops_port

    def db_schema(self, name: str) -> str:
        """This service's PostgreSQL schema, namespaced like the topics (tests run side by side)."""
        prefix = self.topic_namespace.replace(".", "_").replace("-", "_").lower()
        return f"{prefix}{name}"

    def topic(self, name: str) -> str:
        return f"{self.topic_namespace}{name}"

    def group(self, name: str) -> str:
        return f"{self.topic_namespace}{name}"
