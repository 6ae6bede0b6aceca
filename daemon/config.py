"""Settings from the environment (prefix PLANBELL_), a `.env` file, or `*_FILE` paths for secrets.

Bad settings fail fast with the variable's name and the values it accepts.
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from daemon import defaults


class ConfigError(Exception):
    """A setting is wrong; the message names the variable and the fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PLANBELL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    schedules: Path = Path("schedules")
    roster: Path = Path("schedules/roster.yaml")
    database_url: str = "sqlite:///var/planbell.db"
    timezone: str = defaults.TIMEZONE
    maildir: Path = Path("var/mail")
    log_level: str = "INFO"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone name such as Asia/Shanghai") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        levels = ("DEBUG", "INFO", "WARNING", "ERROR")
        if value.upper() not in levels:
            raise ValueError("is not one of: " + ", ".join(levels))
        return value.upper()


def load_settings(**overrides) -> Settings:
    """Settings, or ConfigError naming each bad variable (never a pydantic dump)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "PLANBELL_" + "_".join(str(p) for p in err["loc"]).upper()
            value = err.get("input")
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"设置 {name}={value!r} 有误:{message}")
        raise ConfigError("\n".join(lines)) from None
