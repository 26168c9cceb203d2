"""Settings from the environment and an optional .env file (pydantic-settings)."""

import zipfile
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialogs.clock import NATIONS

DEFAULT_DATABASE_URL = "sqlite:///data/strategy.db"
EXPORT_FORMATS = ("docx", "pdf", "json")  # bot.records.formats.Format's values


class ConfigError(Exception):
    """A setting is wrong; the message names it and what it accepts."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "Europe/London"
    nation: Literal["england-and-wales", "scotland", "northern-ireland"] = "england-and-wales"
    procedure_file: Path | None = None
    # The council's own Word template for the record (docs/records.md); the shipped one when unset.
    record_docx_template: Path | None = None
    # The council this deployment serves: a case reference has one open series per council.
    council: str = Field(default="", max_length=40)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # The reminders scheduler (README "Reminders"): how often it sweeps, and how long a claim lasts.
    scheduler_enabled: bool = True
    scheduler_interval_seconds: float = Field(default=30, gt=0)
    scheduler_lease_seconds: float = Field(default=120, gt=0)
    # Inbound work (docs/durability.md): a fixed pool of workers per surface and process, a bounded
    # queue in front of it, and the inbox's retries and sweep.
    background_workers: int = Field(default=8, ge=1, le=256)
    background_queue_size: int = Field(default=200, ge=1, le=100_000)
    # Requests from Slack being stored at once, at most: beyond it Slack is answered 503 at once and
    # sends again later, instead of this process holding ever more waiting requests in memory.
    inbound_max_waiting: int = Field(default=64, ge=1, le=10_000)
    inbox_lease_seconds: float = Field(default=30, gt=0)  # how long a process holds a row it works on
    inbox_sweep_seconds: float = Field(default=5, gt=0)  # how often rows left waiting are looked for
    inbox_max_attempts: int = Field(default=5, ge=1)  # then the row fails and the person is told
    inbox_retry_seconds: float = Field(default=5, ge=0)  # first wait after a failure; doubles, max 10 min
    # Email domain -> agency: who may be added to the directory from their Slack/Teams profile.
    directory_domain_rules: str = "police.uk=police,nhs.net=health,nhs.uk=health"
    # A case-management system's import folder (README "Record exports"): every signed-off record
    # version is written there, atomically, in each of these formats. Unset: no folder, nothing queued.
    record_export_dir: Path | None = None
    record_export_formats: str = "docx,pdf,json"

    # Slack (README "Slack"): on when SLACK_SIGNING_SECRET and a bot token or an OAuth client are set.
    slack_signing_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = None  # xoxb-: one workspace
    slack_app_token: SecretStr | None = None  # xapp-: Socket Mode instead of the public request URL
    slack_client_id: str | None = None  # with the client secret: many workspaces through OAuth
    slack_client_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_discussion_mode: Literal["private_channel", "thread"] = "private_channel"
    slack_duty_channel: str | None = None  # channel ID (C.../G...) of the day duty team
    slack_out_of_hours_channel: str | None = None  # channel ID of the out-of-hours team
    # Many workspaces: the workspace the duty channels are in and that DMs use when no other is known.
    slack_team_id: str | None = None
    slack_allowed_team_ids: str = ""  # comma-separated T.../E... ids; other teams are refused

    # Microsoft Teams (README "Microsoft Teams"): on when MICROSOFT_APP_ID is set, or TEAMS_LOCAL_DEVELOPMENT.
    microsoft_app_id: str = ""  # the Azure Bot's Microsoft App ID (Entra application client id)
    microsoft_app_password: SecretStr | None = None  # its client secret ...
    microsoft_app_certificate_path: Path | None = None  # ... or a PFX certificate without a password
    microsoft_app_tenant_id: str = ""  # the council's Entra tenant (single-tenant bot)
    # Partner tenants (police, NHS) allowed too, comma-separated: shared channels reach the bot from them.
    microsoft_allowed_tenant_ids: str = ""
    teams_local_development: bool = False  # no app id: anonymous /api/messages, loopback callers only
    teams_duty_channel_id: str | None = None  # Teams channel id (19:...@thread.tacv2) of the duty team
    teams_out_of_hours_channel_id: str | None = None  # Teams channel id of the out-of-hours team
    # Tests and operators only: take the Bot Framework signing keys from this OpenID metadata URL.
    teams_openid_metadata_url_override: str | None = None
    # The signed-off records as links in Teams (README "Microsoft Teams"): the bot serves each file at
    # PUBLIC_URL/records/<token>, a token signed with RECORD_LINK_SECRET (else a key derived from
    # MICROSOFT_APP_PASSWORD) that expires after RECORD_LINK_HOURS (bot/records/links.py).
    public_url: str = ""  # the bot's public address, such as https://strategy-bot.example.org
    record_link_secret: SecretStr | None = None
    record_link_hours: float = Field(default=72, gt=0, le=24 * 30)

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _slack_token_kind(cls, v: SecretStr | None, info) -> SecretStr | None:
        prefix = "xoxb-" if info.field_name == "slack_bot_token" else "xapp-"
        if v is not None and v.get_secret_value() and not v.get_secret_value().startswith(prefix):
            raise ValueError(f"this token should start with {prefix} (see README, Slack)")
        return v

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("use the Web API base URL, such as https://slack.com/api/")
        return v if v.endswith("/") else v + "/"

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        local = v.startswith(("http://localhost", "http://127.0.0.1"))
        if v and not (v.startswith("https://") or local):
            raise ValueError("use the bot's public https address, such as https://strategy-bot.example.org")
        return v

    @field_validator("record_link_secret")
    @classmethod
    def _link_secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and v.get_secret_value() and len(v.get_secret_value()) < 32:
            raise ValueError("use at least 32 random characters (for example: openssl rand -base64 32)")
        return v

    @field_validator("slack_duty_channel", "slack_out_of_hours_channel")
    @classmethod
    def _slack_channel_id(cls, v: str | None) -> str | None:
        if v and not (v[0] in "CG" and v[1:].isalnum() and v.isupper()):
            raise ValueError("use the channel ID (C0123ABCD), shown at the bottom of the channel's details")
        return v or None

    @field_validator("slack_team_id", "slack_allowed_team_ids")
    @classmethod
    def _slack_team_ids(cls, v: str | None, info) -> str | None:
        ids = [t.strip() for t in (v or "").split(",") if t.strip()]
        if any(not (t[0] in "TE" and t[1:].isalnum() and t.isupper()) for t in ids):
            raise ValueError("use Slack workspace ids (T0123ABCD) or organisation ids (E0123ABCD)")
        if info.field_name == "slack_team_id":
            if len(ids) > 1:
                raise ValueError("give one workspace id")
            return ids[0] if ids else None
        return ",".join(ids)

    @field_validator("directory_domain_rules")
    @classmethod
    def _domain_rules(cls, v: str) -> str:
        from dialogs.directory import DirectoryError, parse_domain_rules

        try:
            parse_domain_rules(v)
        except DirectoryError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("record_export_dir")
    @classmethod
    def _export_dir(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_dir():
            raise ValueError(f"no folder at {v}; create it, or leave RECORD_EXPORT_DIR unset")
        return v.resolve() if v is not None else None

    @field_validator("record_export_formats")
    @classmethod
    def _export_formats(cls, v: str) -> str:
        names = [f.strip().lower() for f in v.split(",") if f.strip()]
        if not names or any(f not in EXPORT_FORMATS for f in names):
            raise ValueError(f"give one or more of {', '.join(EXPORT_FORMATS)}, comma-separated")
        return ",".join(dict.fromkeys(names))  # once each, in the order given

    @property
    def export_formats(self) -> tuple[str, ...]:
        return tuple(self.record_export_formats.split(","))

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, v: str) -> str:
        if not (v.startswith("sqlite:///") or v.startswith(("postgresql://", "postgres://"))):
            raise ValueError("use sqlite:///path/to/file.db or postgresql://user@host:port/dbname")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("use an IANA time zone name such as Europe/London") from None
        return v

    @field_validator("procedure_file")
    @classmethod
    def _readable(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"no file at {v}; give the path of a procedure YAML file")
        return v

    @field_validator("record_docx_template")
    @classmethod
    def _docx_template(cls, v: Path | None) -> Path | None:
        if v is not None and not (v.is_file() and zipfile.is_zipfile(v)):
            raise ValueError(f"no Word document at {v}; give the path of a .docx template (docs/records.md)")
        return v

    @property
    def sqlite_path(self) -> Path | None:
        return (
            Path(self.database_url.removeprefix("sqlite:///"))
            if self.database_url.startswith("sqlite")
            else None
        )


_ACCEPTED = {"nation": ", ".join(NATIONS), "log_level": "DEBUG, INFO, WARNING, ERROR"}


def load_settings(**overrides) -> Settings:
    """Read the settings, turning a validation error into one message per wrong setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "settings"
            accepted = _ACCEPTED.get(str(err["loc"][0]) if err["loc"] else "")
            msg = f"accepted values: {accepted}" if accepted else err["msg"].removeprefix("Value error, ")
            # Never echo a secret or token back, even a wrong one.
            shown = (
                "(hidden)"
                if name.endswith(
                    ("_SECRET", "_TOKEN", "_PASSWORD", "DATABASE_URL")
                )  # a URL may hold a password
                else repr(err.get("input"))
            )
            lines.append(f"{name} is not valid ({shown}): {msg}")
        raise ConfigError("\n".join(lines)) from None
