"""Settings from the environment and an optional .env file (pydantic-settings)."""

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialogs.clock import NATIONS

DEFAULT_DATABASE_URL = "sqlite:///data/strategy.db"


class ConfigError(Exception):
    """A setting is wrong; the message names it and what it accepts."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "Europe/London"
    nation: Literal["england-and-wales", "scotland", "northern-ireland"] = "england-and-wales"
    procedure_file: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

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
            lines.append(f"{name} is not valid ({err.get('input')!r}): {msg}")
        raise ConfigError("\n".join(lines)) from None
