"""Settings: the embedded default, environment overrides, secrets, the documented example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common.settings import PROJECT_ROOT, Settings


def test_embedded_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = Settings()
    assert settings.telegram.bot_token is None
    assert settings.database.url.startswith("sqlite+aiosqlite:///")
    assert settings.knowledge.chroma_url is None


def test_environment_overrides_and_secret_stays_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:secret-token")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("CHROMA_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("BOT_DEFAULT_LANGUAGE", "en")
    settings = Settings()
    assert settings.telegram.bot_token is not None
    assert settings.telegram.bot_token.get_secret_value() == "123456:secret-token"
    assert "secret-token" not in repr(settings)
    assert settings.database.url == "postgresql+asyncpg://u@h/db"
    assert settings.knowledge.chroma_url == "http://127.0.0.1:8000"
    assert settings.behaviour.default_language == "en"


def test_empty_values_keep_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    settings = Settings()
    assert settings.database.url.startswith("sqlite")
    assert settings.telegram.bot_token is None


def test_env_example_documents_every_variable() -> None:
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    expected = {"CONCIERGE_ENV", "CONCIERGE_VAR_DIR", "LOG_LEVEL", "LOG_JSON"}
    for section in Settings.model_fields.values():
        model = section.annotation
        config = getattr(model, "model_config", None)
        if not config or "env_prefix" not in config:
            continue
        for name, field in model.model_fields.items():  # type: ignore[union-attr]
            alias = field.validation_alias
            choices = getattr(alias, "choices", None)
            expected.add(str(choices[0]) if choices else f"{config['env_prefix']}{name}".upper())
    assert expected <= documented, sorted(expected - documented)


def test_leader_heartbeat_is_positive(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings().scheduler.leader_heartbeat_seconds == 10
    monkeypatch.setenv("SCHEDULER_LEADER_HEARTBEAT_SECONDS", "0.5")
    assert Settings().scheduler.leader_heartbeat_seconds == 0.5
    monkeypatch.setenv("SCHEDULER_LEADER_HEARTBEAT_SECONDS", "0")
    with pytest.raises(ValueError, match="greater than 0"):
        Settings()


def test_var_dir_moves_the_database_and_the_index(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONCIERGE_VAR_DIR", str(tmp_path / "elsewhere"))
    settings = Settings()
    assert (
        settings.database.url == f"sqlite+aiosqlite:///{tmp_path / 'elsewhere' / 'concierge.db'}"
    )
    assert settings.knowledge.chroma_path == tmp_path / "elsewhere" / "chroma"
    # Set on their own, they stay where they were put.
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("KNOWLEDGE_CHROMA_PATH", str(tmp_path / "index"))
    settings = Settings()
    assert settings.database.url == "postgresql+asyncpg://u@h/db"
    assert settings.knowledge.chroma_path == tmp_path / "index"
