"""Config is validated once; every error names the file, the key and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from tests.support.paths import ROOT

EXAMPLE_ENV = {
    "KYRBOT_HASH_KEY": "test-key",
    "KYRBOT_KEY": "S33a-NpFNs-WJfK5lApB5lP0ANqXOt-s1Ou4jZZFtL4=",
    "TELEGRAM_BOT_TOKEN": "123456:TEST-token",
    "TELEGRAM_WEBHOOK_SECRET": "test_secret",
    "TWILIO_ACCOUNT_SID": "ACtest",
    "TWILIO_AUTH_TOKEN": "test-auth",
    "TWILIO_FROM_NUMBER": "+15550000000",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_config_is_valid(monkeypatch):
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    config = load_config(ROOT / "config.example.yaml")
    assert config.privacy.hash_key == "test-key"
    assert config.organization.complaint_phone  # only verified values are filled
    assert not config.organization.hotline


def test_no_file_gives_working_defaults():
    config = load_config(None)
    assert config.locales == ["en", "es"] and config.database.url.startswith("sqlite")


def test_secrets_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_TOKEN", "123456:TEST-token")
    config = load_config(write(tmp_path, "telegram:\n  token: ${MY_TOKEN}\n"))
    assert config.telegram.token == "123456:TEST-token"


def test_a_missing_environment_variable_names_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = write(tmp_path, "twilio:\n  auth_token: ${NOT_SET_ANYWHERE}\n")
    with pytest.raises(ConfigError, match=r"config.yaml: twilio.auth_token: .*NOT_SET_ANYWHERE"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("session:\n  idle_minutes: 0\n", "session.idle_minutes"),
        ("telegram:\n  tokn: x\n", "telegram.tokn"),
        ("locales: [es]\n", "locales"),
        ("default_locale: fr\n", "default_locale"),
        ("sms:\n  segment_budget: many\n", "sms.segment_budget"),
    ],
)
def test_a_bad_value_names_file_and_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert "config.yaml" in str(caught.value) and key.split(".")[0] in str(caught.value)


def test_a_yaml_error_names_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"config.yaml:3: not valid YAML"):
        load_config(write(tmp_path, "server:\n  port: [1\n"))


def test_an_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
