"""Settings from the environment and an optional ``.env`` file.

Every setting is read once at start. A bad value stops the program with one line that names the
setting (see :func:`load_settings`), so a typo in a deployment never turns into a half-working bot.
"""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.domain import CAMPUS_TIMEZONE, Language

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A setting has a value the program cannot run with."""


class Settings(BaseSettings):
    """What an operator may change without touching code."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(
        default_factory=lambda: f"sqlite+aiosqlite:///{Path.cwd() / 'assistant.sqlite3'}",
        validation_alias="ASSISTANT_DATABASE_URL",
    )
    telegram_bot_token: str | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org/bot", validation_alias="TELEGRAM_API_BASE_URL"
    )
    telegram_api_file_url: str = Field(
        default="https://api.telegram.org/file/bot", validation_alias="TELEGRAM_API_FILE_URL"
    )
    timezone: str = Field(default=CAMPUS_TIMEZONE, validation_alias="ASSISTANT_TIMEZONE")
    language: Language = Field(default="zh-CN", validation_alias="ASSISTANT_LANGUAGE")
    rules_dir: Path = Field(default=REPO_ROOT / "rules", validation_alias="ASSISTANT_RULES_DIR")
    conversations_dir: Path = Field(
        default=REPO_ROOT / "conversations", validation_alias="ASSISTANT_CONVERSATIONS_DIR"
    )
    telegram_bot_username: str | None = Field(
        default=None, validation_alias="TELEGRAM_BOT_USERNAME"
    )
    webhook_url: str | None = Field(default=None, validation_alias="ASSISTANT_WEBHOOK_URL")
    webhook_listen: str = Field(
        default="127.0.0.1:8443", validation_alias="ASSISTANT_WEBHOOK_LISTEN"
    )
    webhook_secret: str | None = Field(default=None, validation_alias="ASSISTANT_WEBHOOK_SECRET")
    invite_ttl_days: int = Field(
        default=14, ge=1, le=365, validation_alias="ASSISTANT_INVITE_TTL_DAYS"
    )

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "expected a sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db URL"
            )
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        bot_id, sep, secret = value.partition(":")
        if not (sep and bot_id.isascii() and bot_id.isdigit() and secret):
            raise ValueError("expected the token from @BotFather, shaped like 123456:ABC-DEF...")
        return value

    @field_validator("telegram_bot_username")
    @classmethod
    def _username_shape(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        value = value.removeprefix("@")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", value):
            raise ValueError("expected the bot's username, 5-32 letters, digits or _")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("expected the public https:// URL Telegram should post updates to")
        return value

    @field_validator("webhook_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not (sep and host and port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError("expected host:port to listen on, such as 127.0.0.1:8443")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
            raise ValueError("expected 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("telegram_api_base_url", "telegram_api_file_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as Asia/Shanghai") from None
        return value

    @field_validator("rules_dir", "conversations_dir")
    @classmethod
    def _existing_dir(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"expected an existing folder, {value} is not one")
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The campus time zone."""
        return ZoneInfo(self.timezone)


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise :class:`SettingsError` with one line naming the bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = _env_name(str(first["loc"][0]) if first["loc"] else "settings")
        message = first["msg"].removeprefix("Value error, ")
        # The token is a secret: name it, never echo it.
        secret = name in ("TELEGRAM_BOT_TOKEN", "ASSISTANT_WEBHOOK_SECRET")
        shown = "" if secret else f" (got {first.get('input')!r})"
        raise SettingsError(f"{name}: {message}{shown}") from None


def _env_name(loc: str) -> str:
    # Errors name the environment variable when it was read from there, the field otherwise.
    info = Settings.model_fields.get(loc)
    alias = info.validation_alias if info else None
    return alias if isinstance(alias, str) else loc
