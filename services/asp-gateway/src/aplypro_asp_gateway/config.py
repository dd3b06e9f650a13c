"""Settings of the asp-gateway service (env prefix APLYPRO_ASP_).

The PARAMETRAGE codes and unités de suivi default to the fictitious values of the exchange reference
(asp-exchange.md §4.7): production values are unknown here (§11).
"""

from pathlib import Path

from aplypro_servicekit.settings import ServiceSettings
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

BUDGET_PROGRAMMES = frozenset({"menj_public", "menj_private", "menj_other", "masa", "mer", "armee"})


def _programmes(value: str) -> frozenset[str]:
    return frozenset(p.strip().lower() for p in value.split(",") if p.strip())


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

    # Budget programmes whose funding is switched off, comma separated (e.g. "masa,mer"): their requests park
    # with `funding_unavailable` and are released at the first build after the programme leaves this list.
    funding_off: str = ""

    # Return files of the ASP read by `poll` when no SFTP fetch is plugged in (next to the outbox folder).
    return_dir: Path = Field(default=Path("var/asp/inbox"), description="Where the ASP's return files are read.")

    @field_validator("funding_off")
    @classmethod
    def _known_programmes(cls, value: str) -> str:
        # A misspelt programme would switch nothing off, silently: refused at start instead.
        unknown = _programmes(value) - BUDGET_PROGRAMMES
        if unknown:
            raise ValueError(f"unknown budget programme(s) {sorted(unknown)}; known: {sorted(BUDGET_PROGRAMMES)}")
        return value

    def funding_off_programmes(self) -> frozenset[str]:
        return _programmes(self.funding_off)

    def unites_suivi(self) -> dict[str, str | None]:
        return {
            "menj_public": self.us_menj_public, "menj_private": self.us_menj_private,
            "menj_other": self.us_menj_other, "masa": self.us_masa, "mer": self.us_mer, "armee": self.us_armee,
        }
