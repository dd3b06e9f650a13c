"""Settings of the students service (env prefix APLYPRO_STUDENTS_)."""

from typing import Literal

from aplypro_servicekit.settings import ServiceSettings
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from aplypro_students.domain.departures import DEFAULT_MAX_SHARE
from aplypro_students.domain.inbound import check_producer_id


class StudentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_STUDENTS_", extra="ignore")

    service_name: str = "students"
    inbound_producers: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Other ministries' systems that publish schooling events (docs/producers.md), as JSON: "
        'producer id → the ministries (directory `ministere_tutelle`) it may report for, e.g. {"mer": ["MER"]}. '
        "Each gets a consumer of aplypro.inbound.schoolings.<id>; empty: none.",
    )
    inbound_start_tolerance_days: int = Field(
        default=30, ge=0, description="How long before its school year's first day a reported schooling may "
        "start (early starts, pre-term placements) before it is `impossible_dates`.")

    @field_validator("inbound_producers")
    @classmethod
    def _producer_ids(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for producer in value:
            check_producer_id(producer)
        return value
    # imports.md §5.6: a full snapshot closing more than this share of open schoolings is refused
    mass_departure_share: float = Field(default=DEFAULT_MAX_SHARE, ge=0, le=1)
    # the nightly import-all, at this hour (0-23, Europe/Paris); unset: no nightly import (tests, the demo)
    import_hour: int | None = Field(default=None, ge=0, le=23)
    import_sources: list[str] = Field(default_factory=lambda: ["sygne"])  # JSON list: the providers the nightly run imports
    # an open run older than this is abandoned and a new one starts: a re-run the same night continues it,
    # the next night's run starts over
    import_resume_hours: float = 20.0
    # import-all of an API source: `full`, the list is a snapshot and its absentees have left (under the
    # mass-departure guard: a refused establishment is reported failed, `mass_departure`); `partial`: never closes
    import_mode: Literal["full", "partial"] = "full"
    import_concurrency: int = Field(default=4, ge=1)  # establishments fetched at once (each commits alone)
    # import-all's processes: the main one and (n - 1) helpers claiming the same run's establishments, each with
    # `import_concurrency` establishments at once (entrypoints/import_workers.py); 2 for a 2-core machine
    import_workers: int = Field(default=2, ge=1)
    # The SYGNE detail lane of `run` (service_layer/sygne_details.py): the details import-all queued (first seen,
    # moved), fetched and applied in the background. Off when the APLYPRO_SYGNE_* settings are absent.
    sygne_details_lane: bool = True
    sygne_details_batch: int = Field(default=50, ge=1)  # rows claimed per transaction
    sygne_details_concurrency: int = Field(default=16, ge=1)  # detail calls in flight
    sygne_details_rate: float = Field(default=200.0, gt=0)  # details a second at most (SYGNE's rate limit)
    sygne_details_max_attempts: int = Field(default=10, ge=1)  # then the row stays, given up, for an operator
    sygne_details_backoff: float = Field(default=30.0, gt=0)  # seconds before a failed row's retry, doubled each time
    # load-establishments re-publishes the schoolings of a changed establishment (issue 13) of this many school
    # years, the current one included (and later ones): those documents and the asp-gateway may still act on
    establishment_republish_years: int = Field(default=2, ge=1)
    establishment_republish_chunk: int = Field(default=2000, ge=1)  # schoolings per transaction
    # The internal HTTP API (`aplypro-students api`, issue 14): the web application enters RIBs through it.
    # Every call carries this shared token (Authorization: Bearer); unset, the API refuses to start.
    api_token: SecretStr | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8071  # beside the web application's 8070
    # The API's /metrics, /healthz, /readyz (on APLYPRO_OPS_HOST), apart from `run`'s APLYPRO_STUDENTS_OPS_PORT;
    # 0: none.
    api_ops_port: int = Field(default=0, ge=0, le=65535)
