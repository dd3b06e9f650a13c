"""Settings of the asp-gateway service (env prefix APLYPRO_ASP_).

The PARAMETRAGE codes and unités de suivi default to the fictitious values of the exchange reference
(asp-exchange.md §4.7): production values are unknown here (§11).
"""

from pathlib import Path

from aplypro_servicekit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class AspSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_ASP_", extra="ignore")

    service_name: str = "asp-gateway"
    outbox_dir: Path = Field(default=Path("var/asp/outbox"), description="Where payment files are written.")
    file_token: str = Field(default="aplypro_test_dev", description="TOKEN of nps_ficimport_idp_{TOKEN}_….")
    build_interval_s: float = 2.0
    # ASP's own cap is 7 000 records per file; the builder never exceeds it whatever this says.
    max_records_per_file: int = Field(default=10000, ge=1)

    # PARAMETRAGE and programme codes (§3.5, §4.2).
    codesiteope: str = Field(default="SITEOPE", max_length=10)
    codeutilisateur: str = Field(default="USERCODE", max_length=101)
    codedispo: str = Field(default="APLYPRO", max_length=20)
    codeprestadispo: str = Field(default="APLYPRO", max_length=20)
    codedispositif: str = Field(default="APLYPRO", max_length=20)

    # One unité de suivi (USPRINC) per budget programme; None blocks that programme's records (§4.5).
    us_menj_public: str | None = "USMENJPUB"
    us_menj_private: str | None = "USMENJPRIV"
    us_menj_other: str | None = None
    us_masa: str | None = "USMASA"
    us_mer: str | None = "USMER"
    us_armee: str | None = None

    def unites_suivi(self) -> dict[str, str | None]:
        return {
            "menj_public": self.us_menj_public, "menj_private": self.us_menj_private,
            "menj_other": self.us_menj_other, "masa": self.us_masa, "mer": self.us_mer, "armee": self.us_armee,
        }
