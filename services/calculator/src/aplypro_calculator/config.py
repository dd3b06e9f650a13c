"""Settings of the calculator (env prefix APLYPRO_CALCULATOR_)."""

from aplypro_servicekit.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class CalculatorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_CALCULATOR_", extra="ignore")

    service_name: str = "calculator"
