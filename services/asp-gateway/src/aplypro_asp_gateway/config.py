"""Settings of the asp-gateway service (env prefix APLYPRO_ASP_).

The PARAMETRAGE codes and unités de suivi default to the fictitious values of the exchange reference
(asp-exchange.md §4.7): production values are unknown here (§11).
"""

from pathlib import Path
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aplypro_servicekit.settings import ServiceSettings
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from aplypro_asp_gateway.domain.communes import table_errors
from aplypro_asp_gateway.domain.schedule import SendSchedule, send_days, send_window

BUDGET_PROGRAMMES = frozenset({"menj_public", "menj_private", "menj_other", "masa", "mer", "armee"})


def _programmes(value: str) -> frozenset[str]:
    return frozenset(p.strip().lower() for p in value.split(",") if p.strip())


class AspSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APLYPRO_ASP_", extra="ignore")

    service_name: str = "asp-gateway"
    outbox_dir: Path = Field(default=Path("var/asp/outbox"), description="Where payment files are written.")
    file_token: str = Field(default="aplypro_test_dev", description="TOKEN of nps_ficimport_idp_{TOKEN}_….")
    build_interval_s: float = 2.0
    # The ASP's return files fetched and ingested by `run` itself every this many seconds, as `poll` does; none:
    # an operator schedules `aplypro-asp-gateway poll` (one process start each time).
    poll_interval_s: float | None = Field(default=None, gt=0)
    inbox_dir: Path = Field(default=Path("var/asp/inbox"),
                            description="Where return files are read when no SFTP host is set.")

    # SFTP to the ASP (asp-exchange.md §3.1, §3.5). No host: the local outbox/inbox folders above are used.
    sftp_host: str | None = None
    sftp_port: int = Field(default=22, ge=1, le=65535)
    sftp_user: str | None = None
    sftp_key_path: Path | None = Field(default=None, description="Private key for key authentication.")
    sftp_password: SecretStr | None = Field(default=None, description="Password authentication (§3.1), if any.")
    # The server's host key is always checked: no setting turns that off.
    sftp_known_hosts: Path | None = Field(default=None, description="known_hosts file pinning the host key.")
    sftp_upload_dir: str = "depot"  # relative to the login directory (§3.1)
    sftp_return_dir: str = "retour"
    sftp_timeout_s: float = Field(default=60.0, gt=0, description="Connection and per-operation timeout.")
    # A return file is removed from the server once its bytes are committed here (§3.1, G3).
    sftp_delete_returns: bool = True
    # ASP's own cap is 7 000 records per file; the builder never exceeds it whatever this says.
    max_records_per_file: int = Field(default=7000, ge=1)

    # When a file may leave and how much (asp-exchange.md §3.4, §3.5, G6). A file is built and uploaded only on
    # a send day, inside the window (both ends included, to the minute), in the send time zone; the ASP's caps
    # count files and records on the day and the Monday–Sunday week they are uploaded. UTC: the existing
    # system's server clock (§3.4; §11 point 4 leaves the ASP's own zone open). The local stack (demo, tests)
    # opens every day and hour.
    payments_enabled: bool = Field(default=True, description="Kill switch: false sends no payment file at all.")
    send_days: str = Field(default="mon,tue,wed,thu,fri", description="Days a file may be sent (mon … sun).")
    send_window: str = Field(default="01:00-05:30", description="HH:MM-HH:MM, both ends included.")
    send_time_zone: str = "UTC"
    # §3.4, §11 point 4: the ASP's processing on a public holiday is unconfirmed; on (the safe side), no file
    # leaves on a French national public holiday (the `holidays` package's calendar) and G5 does not count it.
    skip_public_holidays: bool = Field(default=True, description="Send no payment file on a French public holiday.")
    max_files_per_day: int = Field(default=10, ge=1)
    max_records_per_week: int = Field(default=100_000, ge=1)
    # G5 (§9.2): a record uploaded and not answered (no integration nor reject line) after this many working
    # days (Monday–Friday, holidays not known) is reported; an integrated request without a payment line after
    # that many calendar days, too.
    answer_timeout_working_days: int = Field(default=2, ge=1)
    payment_timeout_days: int = Field(default=30, ge=1)

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
    # §8.2: a rectification whose new total is below what the ASP paid parks (negative_rectification) while on;
    # the ASP asked for the block in February 2026 and has not said when it ends (§11 point 9).
    negative_rectification_blocked: bool = True

    # §4.4, §4.6: the operator's residence-commune exception table, outdated or merged commune → the INSEE code the
    # ASP knows, as JSON (APLYPRO_ASP_COMMUNE_EXCEPTIONS='{"14472": "14666"}'); applied to every CODECOMINSEE sent.
    commune_exceptions: dict[str, str] = Field(default_factory=dict,
                                               description="Residence commune INSEE code → the code sent.")

    # RNVP, the national address normalisation (§4.9): the address-correction file asks it for every student
    # living in France. No URL: a correction for such a student is refused (nothing is sent un-normalised).
    rnvp_url: str | None = Field(default=None, description="Base URL of the RNVP service (POST {url}/normaliser).")
    rnvp_timeout_s: float = Field(default=10.0, gt=0)

    # A file's moves (its build, upload, return) as PaymentRequestsMoved, up to 1,000 requests an event, instead of
    # one event per request (issue 12). False for a rollout whose consumers do not read the group yet.
    grouped_events: bool = Field(default=True, description="Publish a file's moves as PaymentRequestsMoved groups.")

    # Return files of the ASP read by `poll` when no SFTP fetch is plugged in (next to the outbox folder).

    @field_validator("send_days")
    @classmethod
    def _known_days(cls, value: str) -> str:
        send_days(value)  # a misspelt day would silently never send: refused at start
        return value

    @field_validator("send_window")
    @classmethod
    def _window(cls, value: str) -> str:
        send_window(value)
        return value

    @field_validator("send_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)  # an unknown zone is refused at start
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("commune_exceptions")
    @classmethod
    def _commune_codes(cls, value: dict[str, str]) -> dict[str, str]:
        value = {k.strip().upper(): v.strip().upper() for k, v in value.items()}
        if errors := table_errors(value):  # a typo would silently send the outdated code: refused at start
            raise ValueError(f"commune exceptions must map 5-character INSEE codes: {', '.join(errors)}")
        return value

    @field_validator("funding_off")
    @classmethod
    def _known_programmes(cls, value: str) -> str:
        # A misspelt programme would switch nothing off, silently: refused at start instead.
        unknown = _programmes(value) - BUDGET_PROGRAMMES
        if unknown:
            raise ValueError(f"unknown budget programme(s) {sorted(unknown)}; known: {sorted(BUDGET_PROGRAMMES)}")
        return value

    @model_validator(mode="after")
    def _sftp_complete(self) -> Self:
        # A host without its user, credentials or pinned host key would fail at the first night's upload:
        # refused at start instead.
        if self.sftp_host is None:
            return self
        missing = [name for name, value in (("APLYPRO_ASP_SFTP_USER", self.sftp_user),
                                            ("APLYPRO_ASP_SFTP_KNOWN_HOSTS", self.sftp_known_hosts)) if not value]
        if self.sftp_key_path is None and self.sftp_password is None:
            missing.append("APLYPRO_ASP_SFTP_KEY_PATH (or APLYPRO_ASP_SFTP_PASSWORD)")
        if missing:
            raise ValueError(f"APLYPRO_ASP_SFTP_HOST is set but not {', '.join(missing)}")
        return self

    def schedule(self) -> SendSchedule:
        start, end = send_window(self.send_window)
        return SendSchedule(enabled=self.payments_enabled, days=send_days(self.send_days), start=start, end=end,
                            zone=ZoneInfo(self.send_time_zone), records_per_file=self.max_records_per_file,
                            files_per_day=self.max_files_per_day, records_per_week=self.max_records_per_week,
                            skip_public_holidays=self.skip_public_holidays)

    def funding_off_programmes(self) -> frozenset[str]:
        return _programmes(self.funding_off)

    def unites_suivi(self) -> dict[str, str | None]:
        return {
            "menj_public": self.us_menj_public, "menj_private": self.us_menj_private,
            "menj_other": self.us_menj_other, "masa": self.us_masa, "mer": self.us_mer, "armee": self.us_armee,
        }
