"""Settings of the calculator (env prefix APLYPRO_CALCULATOR_)."""

from typing import Literal

from aplypro_servicekit.settings import ServiceSettings
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict


class CalculatorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_CALCULATOR_", extra="ignore")

    service_name: str = "calculator"
    # The busiest publisher: its relay gets a process (a core) of its own. APLYPRO_RELAY_PROCESS=false
    # puts it back in the service process.
    relay_process: bool = Field(default=True, validation_alias=AliasChoices("aplypro_relay_process",
                                                                            "APLYPRO_RELAY_PROCESS"))
    negative_rectifications_enabled: bool = Field(
        default=False,
        description="calculation.md §5.4: ASP refuses lower totals since February 2026, so downward "
        "rectifications are refused (user) or parked (system) until this is turned on.",
    )
    evaluation_cooldown: Literal["next_midnight", "none"] = Field(
        default="next_midnight",
        description="lifecycles.md §5: the request of a validated PFMP is due at the next 00:00 Europe/Paris "
        "after the validation (`next_midnight`), so same-day validations never depend on their arrival order "
        "and staff can fix same-day mistakes; `none` evaluates it at once (demos, tests). Rectifications are "
        "always evaluated at once.",
    )
    evaluation_interval_s: float = Field(
        default=30.0, gt=0, description="Seconds between two passes of the evaluator of due requests.")
    evaluation_batch_size: int = Field(
        default=1000, ge=1, description="Due requests evaluated per transaction by the evaluator.")
