"""The production log set-up: JSON lines, tokens masked, chatty libraries kept quiet."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.logging_setup import configure_logging
from bot.settings import Settings, TelegramSettings

TOKEN = "123456:SECRET-token-of-the-bank-bot"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "aiogram.event")}
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = handlers, level
    for name, saved in quiet.items():
        logging.getLogger(name).setLevel(saved)


def test_request_lines_of_chromas_http_client_stay_out_and_tokens_are_masked(
    tmp_path: Path, restored_logging: None
) -> None:
    settings = Settings(
        environment="test",
        var_dir=tmp_path,
        log_json=True,
        telegram=TelegramSettings(bot_token=SecretStr(TOKEN)),
    )
    log_file = tmp_path / "bot.log"
    configure_logging(settings, to_file=log_file)

    logging.getLogger("httpx").info('HTTP Request: GET http://chroma:8000/api/v2/heartbeat "200"')
    logging.getLogger("httpx").warning("chroma answered 503")
    logging.getLogger("bot.transports").info("calling https://api/bot%s/getMe", TOKEN)
    for handler in logging.getLogger().handlers:
        handler.flush()

    lines = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert [line["event"] for line in lines] == [
        "chroma answered 503",
        "calling https://api/bot***/getMe",
    ]
