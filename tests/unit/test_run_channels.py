"""`concierge run --channel`: which messengers a process receives from, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from pydantic import SecretStr
from typer.testing import CliRunner

from cli import main as cli
from common.settings import MaxSettings, Settings, TelegramSettings, get_settings


def _settings(*, telegram: bool, max_: bool) -> Settings:
    return Settings(
        telegram=TelegramSettings(bot_token=SecretStr("1:T") if telegram else None),
        max=MaxSettings(bot_token=SecretStr("m") if max_ else None),
    )


@pytest.mark.parametrize(
    ("telegram", "max_", "channel", "chosen"),
    [
        (True, True, "all", ["telegram", "max"]),
        (True, True, "max", ["max"]),
        (False, True, "all", ["max"]),
        (True, False, "max", []),
        (False, False, "all", []),
    ],
)
def test_the_channels_a_process_receives_from(
    telegram: bool, max_: bool, channel: str, chosen: list[str]
) -> None:
    assert cli.chosen_channels(_settings(telegram=telegram, max_=max_), channel) == chosen


def _run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str, **env: str) -> Result:
    monkeypatch.chdir(tmp_path)  # no .env from the working copy
    for name in ("TELEGRAM_BOT_TOKEN", "MAX_BOT_TOKEN", "MAX_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli.app, ["run", *args])
    finally:
        get_settings.cache_clear()


def test_a_max_replica_needs_the_max_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = _run(monkeypatch, tmp_path, "--channel", "max", TELEGRAM_BOT_TOKEN="1:T")
    assert result.exit_code == 2
    assert "--channel max needs MAX_BOT_TOKEN" in result.output


def test_max_webhook_needs_its_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = _run(monkeypatch, tmp_path, "--webhook", "--channel", "max", MAX_BOT_TOKEN="m")
    assert result.exit_code == 2
    assert "MAX_WEBHOOK_SECRET" in result.output


def test_an_unknown_channel_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = _run(monkeypatch, tmp_path, "--channel", "pigeon")
    assert result.exit_code == 2
    assert "telegram, max or all" in result.output
