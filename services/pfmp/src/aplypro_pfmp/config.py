"""Settings of the pfmp service (env prefix APLYPRO_PFMP_)."""

from aplypro_servicekit.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class PfmpSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_PFMP_", extra="ignore")

    service_name: str = "pfmp"
    http_port: int = 8070

    # Validation's RIB guard reads the students' RibOnFile facts; false only for a stack whose RIBs were
    # recorded before students published them (re-recording an unchanged RIB publishes nothing).
    require_rib: bool = True
