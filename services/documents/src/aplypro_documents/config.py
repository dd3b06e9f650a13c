"""Settings of the documents service (env prefix APLYPRO_DOCUMENTS_)."""

from pathlib import Path

from aplypro_servicekit.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class DocumentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_DOCUMENTS_", extra="ignore")

    service_name: str = "documents"
    storage_dir: Path = Path("var/documents")
    render_batch_size: int = 50  # decisions rendered per weasyprint call (one layout pass)
    render_workers: int = 1  # processes rendering off the event loop
    render_attempts: int = 3  # tries before a render failure is dead-lettered
    poll_interval_s: float = 0.3
