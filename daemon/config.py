"""Settings from the environment (prefix PLANBELL_), a `.env` file, or `*_FILE` paths for secrets.

Bad settings fail fast with the variable's name and the values it accepts.
"""

from __future__ import annotations

import os
import zoneinfo
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from daemon import defaults

WEBHOOK_URL_FIELDS = ("wecom_webhook_url", "dingtalk_webhook_url", "feishu_webhook_url", "webhook_url")


class ConfigError(Exception):
    """A setting is wrong; the message names the variable and the fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PLANBELL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    schedules: Path = Path(defaults.SCHEDULES)
    roster: Path = Path(defaults.ROSTER)
    database_url: str = defaults.DATABASE_URL  # (daemon.whereabouts reads these five too)
    timezone: str = defaults.TIMEZONE
    maildir: Path = Path("var/mail")
    log_level: str = "INFO"
    # The office's first day with planbell: what fell due before it is not owed (上线前).
    # Unset: the day of the first start, recorded in the database.
    go_live: date | None = None

    # The workbench (web pages, action links, calendar feeds, /healthz, /metrics). Port 0
    # turns it off; loopback unless told. PUBLIC_URL is the address written into links (the
    # reverse proxy's https address in production); by default, the local address.
    http_port: int = defaults.HTTP_PORT
    http_host: str = defaults.HTTP_HOST
    public_url: str | None = None
    # Signs action links and cookies. Unset: one is generated at first start and kept in the
    # database, so every instance shares it.
    secret_key: SecretStr | None = None
    log_format: Literal["text", "json"] = "text"

    # Digests: weekly (first working day of the week), daily (each working day) or off.
    digest: Literal["weekly", "daily", "off"] = "weekly"
    digest_at: str = defaults.DIGEST_AT
    digest_send_empty: bool = False

    # Email. Without an SMTP host, mail goes to the Maildir (the embedded default).
    smtp_host: str | None = None
    smtp_port: int | None = None  # default by security: 25, 587 (starttls), 465 (tls)
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = defaults.SMTP_TIMEOUT_SECONDS
    # Without a display name here, mail is from the plan's office (plan.office, else its title).
    mail_from: str = "planbell@localhost"
    # Replies reach a person: this address, else the roster's first admin's email.
    reply_to: str | None = None

    # Messaging robots (group webhooks), each used once its URL is set. The URLs embed the
    # robot's key, so they are secrets like the signing secrets.
    wecom_webhook_url: SecretStr | None = None
    dingtalk_webhook_url: SecretStr | None = None
    dingtalk_secret: SecretStr | None = None  # "加签" in the robot's security settings
    feishu_webhook_url: SecretStr | None = None
    feishu_secret: SecretStr | None = None  # "签名校验" in the robot's security settings
    webhook_url: SecretStr | None = None  # generic JSON for an in-house OA system
    webhook_secret: SecretStr | None = None  # signs each body: X-Planbell-Signature
    messaging_timeout: float = defaults.MESSAGING_TIMEOUT_SECONDS

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("不是 IANA 时区名;请写成如 Asia/Shanghai 的形式") from None
        return value

    @field_validator("go_live", mode="before")
    @classmethod
    def _go_live_date(cls, value):
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError("不是日期;请写成 YYYY-MM-DD,如 2026-11-30") from None
        return value

    @field_validator("digest_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hour, _, minute = value.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60 and len(minute) == 2):
            raise ValueError("应是 24 小时制时刻,如 08:30")
        return value

    @field_validator(*WEBHOOK_URL_FIELDS, "dingtalk_secret", "feishu_secret", "webhook_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(*WEBHOOK_URL_FIELDS)
    @classmethod
    def _web_address(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parts = urlsplit(value.get_secret_value().strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("不是 http(s) 网址;请粘贴机器人设置页给出的完整 Webhook 地址")
        return value

    @field_validator("http_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError("应是 1–65535 的端口号,或 0(不开启网页工作台)")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("应是工作台的网址,如 https://planbell.example.gov.cn 或 http://10.0.0.5:8080")
        return value.strip().rstrip("/")

    @field_validator("secret_key", mode="before")
    @classmethod
    def _secret_key(cls, value):
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and len(value.strip()) < 16:
            raise ValueError("太短;请用至少 16 个字符的随机串,如 python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        levels = ("DEBUG", "INFO", "WARNING", "ERROR")
        if value.upper() not in levels:
            raise ValueError("不是可用的日志级别;可选:" + "、".join(levels))
        return value.upper()


def available_channels(settings: Settings) -> tuple[str, ...]:
    """Channels that can deliver: email always (SMTP or the Maildir), a robot once its webhook
    is configured. A person's roster channels are narrowed to these."""
    robots = {"wecom": "wecom_webhook_url", "dingtalk": "dingtalk_webhook_url",
              "feishu": "feishu_webhook_url", "webhook": "webhook_url"}
    return ("email", *(name for name, field in robots.items() if getattr(settings, field, None)))


# Secrets may also come from files (Docker/systemd credentials): PLANBELL_SMTP_PASSWORD_FILE.
SECRET_FIELDS = (
    "smtp_password", "database_url",  # a PostgreSQL URL carries its password
    "wecom_webhook_url", "dingtalk_webhook_url", "dingtalk_secret",
    "feishu_webhook_url", "feishu_secret", "webhook_url", "webhook_secret", "secret_key",
)


def public_url(settings: Settings) -> str:
    """The address written into links: PLANBELL_PUBLIC_URL, or the local address."""
    if settings.public_url:
        return settings.public_url
    host = settings.http_host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.http_port}"


def _secrets_from_files() -> dict[str, str]:
    out = {}
    for name in SECRET_FIELDS:
        var = f"PLANBELL_{name.upper()}_FILE"
        path = os.environ.get(var)
        if path:
            try:
                out[name] = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"设置 {var}={path!r} 有误:无法读取该文件({exc.strerror or exc})") from None
    return out


def load_settings(**overrides) -> Settings:
    """Settings, or ConfigError naming each bad variable (never a pydantic dump)."""
    try:
        return Settings(**{**_secrets_from_files(), **overrides})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "PLANBELL_" + "_".join(str(p) for p in err["loc"]).upper()
            value = "***" if err["loc"] and err["loc"][0] in SECRET_FIELDS else err.get("input")
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"设置 {name}={value!r} 有误:{message}")
        raise ConfigError("\n".join(lines)) from None


def workbench_url(settings: Settings) -> str | None:
    """Where the workbench answers, for links written outside a message (the ledger's evidence
    links); None when no workbench is configured."""
    return public_url(settings) if settings.http_port or settings.public_url else None
