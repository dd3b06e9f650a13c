"""Settings of the students service (env prefix APLYPRO_STUDENTS_)."""

from aplypro_servicekit.settings import ServiceSettings
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

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
