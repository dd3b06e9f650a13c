"""Settings of the calculator (env prefix APLYPRO_CALCULATOR_)."""

from aplypro_servicekit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class CalculatorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_CALCULATOR_", extra="ignore")

    service_name: str = "calculator"
    negative_rectifications_enabled: bool = Field(
        default=False,
        description="calculation.md §5.4: ASP refuses lower totals since February 2026, so downward "
        "rectifications are refused (user) or parked (system) until this is turned on.",
    )
