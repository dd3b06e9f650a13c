"""Settings of the documents service (env prefix APLYPRO_DOCUMENTS_)."""

from pathlib import Path
from typing import Literal

from aplypro_servicekit.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

PROGRAMMES = {
    "ENPU": "P141 – Enseignement scolaire public du second degré",
    "ENPR": "P139 – Enseignement privé du premier et du second degrés",
    "MASA": "P143 – Enseignement technique agricole",
    "MER": "P205 – Affaires maritimes, pêche et aquaculture",
}


class DocumentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_DOCUMENTS_", extra="ignore")

    service_name: str = "documents"
    # Documents per batch (one transaction); the renderer lays out a class's shared page once per chunk.
    render_batch_size: int = 96
    render_workers: int = 2  # processes rendering off the event loop: one per core of the 2-core pod
    # Niceness of the render workers (0-19): above 0 rendering yields the CPU to the issue lanes (numbers that
    # payments wait for) and the consumer, and takes what they leave.
    render_nice: int = Field(default=0, ge=0, le=19)
    # Issue, then render: issue lanes fix each document's number and content (database only), render lanes
    # make the PDFs later from that frozen content.
    issue_lanes: int = Field(default=2, ge=1)  # issue batches side by side (bound by database round trips)
    render_lanes: int = Field(default=0, ge=0)  # render batches side by side; 0: render_workers + 1
    db_pool_size: int = 8  # the issue lanes hold a connection each, beside the consumer's
    render_attempts: int = 3  # tries before a render failure is dead-lettered
    poll_interval_s: float = 0.3

    # Budget programme printed on the état liquidatif next to the ministry, by DA budget prefix
    # (documents.md §5.4: the existing system printed the raw code). JSON in the environment.
    programmes: dict[str, str] = Field(default_factory=lambda: dict(PROGRAMMES))

    # Where PDFs are kept (documents.md §7): the local filesystem by default, or an S3-compatible store.
    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path = Path("var/documents")
    s3_endpoint_url: str | None = None  # None: AWS itself; set it for MinIO, Garage, Ceph, OVH, Scaleway...
    s3_bucket: str = "aplypro-documents"
    s3_access_key: str | None = None  # None: boto3's usual credential chain (env, profile, instance role)
    s3_secret_key: SecretStr | None = None
    s3_region: str = "us-east-1"  # what most S3-compatible servers expect when they ignore regions

    # The HTTP API the web application downloads through (`aplypro-documents api`): a shared service token,
    # no user sessions (the web application checks the user's role and establishment before it calls).
    api_token: SecretStr | None = None  # None: the API refuses to start (never an open door by default)
    api_host: str = "127.0.0.1"
    api_port: int = 8072  # the students API has 8071, the web 8070
    # The API's /metrics, /healthz, /readyz (on APLYPRO_OPS_HOST), apart from `run`'s APLYPRO_DOCUMENTS_OPS_PORT;
    # 0: none.
    api_ops_port: int = Field(default=0, ge=0, le=65535)
    batch_dir: Path = Path("var/documents-batches")  # class and establishment zips and merged PDFs being built
