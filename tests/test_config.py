"""A bad setting stops start-up with one line that names it; the token is never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import SettingsError, load_settings

SECRET = "123456:super-secret-token-value"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Read no .env of the developer's and no inherited ASSISTANT_* values.
    monkeypatch.chdir(tmp_path)
    for name in (
        "ASSISTANT_DATABASE_URL",
        "TELEGRAM_BOT_TOKEN",
        "ASSISTANT_TIMEZONE",
        "ASSISTANT_LANGUAGE",
        "TELEGRAM_API_BASE_URL",
        "TELEGRAM_BOT_USERNAME",
        "ASSISTANT_WEBHOOK_URL",
        "ASSISTANT_WEBHOOK_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'assistant.sqlite3'}"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.language == "zh-CN"
    assert settings.telegram_bot_token is None
    assert settings.rules_dir.is_dir()


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ASSISTANT_LANGUAGE=en\n", encoding="utf-8")
    assert load_settings().language == "en"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ASSISTANT_DATABASE_URL", "mysql://root@localhost/test"),
        ("ASSISTANT_TIMEZONE", "Mars/Olympus"),
        ("ASSISTANT_LANGUAGE", "fr"),
        ("TELEGRAM_BOT_TOKEN", "not-a-token"),
        ("TELEGRAM_API_BASE_URL", "ftp://example"),
        ("ASSISTANT_RULES_DIR", "/no/such/folder"),
        ("ASSISTANT_INVITE_TTL_DAYS", "zero"),
        ("TELEGRAM_BOT_USERNAME", "has space"),
        ("ASSISTANT_WEBHOOK_URL", "telegram.example.edu/hook"),
        ("ASSISTANT_WEBHOOK_LISTEN", "8443"),
        ("ASSISTANT_WEBHOOK_SECRET", "has spaces and !"),
    ],
)
def test_bad_setting_names_itself(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"assistant: bad setting: {name}: ")


def test_bad_token_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", SECRET.replace(":", ""))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "super-secret" not in str(caught.value)


def test_bad_webhook_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_WEBHOOK_SECRET", "secret with spaces")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "secret with" not in str(caught.value)
