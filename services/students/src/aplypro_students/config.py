"""Settings of the students service (env prefix APLYPRO_STUDENTS_)."""

from aplypro_servicekit.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class StudentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_STUDENTS_", extra="ignore")

    service_name: str = "students"
