"""The production log set-up: JSON lines, tokens masked, chatty libraries kept quiet."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from cli.logging_setup import configure_logging
from common.settings import Settings, TelegramSettings

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


def _logging_to_file(tmp_path: Path, *, log_json: bool) -> Path:
    """The bot's log set-up with a token, writing to a file the test then reads."""
    settings = Settings(
        environment="test",
        var_dir=tmp_path,
        log_json=log_json,
        telegram=TelegramSettings(bot_token=SecretStr(TOKEN)),
    )
    log_file = tmp_path / "bot.log"
    configure_logging(settings, to_file=log_file)
    return log_file


def test_request_lines_of_chromas_http_client_stay_out_and_tokens_are_masked(
    tmp_path: Path, restored_logging: None
) -> None:
    log_file = _logging_to_file(tmp_path, log_json=True)

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


def _send(url: str, text: str) -> None:
    raise ConnectionError(f"cannot reach {url}")


@pytest.mark.parametrize("log_json", [True, False])
def test_a_failure_is_logged_with_its_traceback_but_no_token_and_no_message_text(
    tmp_path: Path, restored_logging: None, log_json: bool
) -> None:
    # Console tracebacks used to show every local variable: the client's text, and the
    # request URL with the token in it.
    log_file = _logging_to_file(tmp_path, log_json=log_json)
    url, text = f"https://api/bot{TOKEN}/sendMessage", "Перевод 2 млн в Дубай, паспорт 4509"
    try:
        _send(url, text)
    except ConnectionError:
        logging.getLogger("bot.app").exception("update 7 failed")
    for handler in logging.getLogger().handlers:
        handler.flush()

    written = log_file.read_text(encoding="utf-8")
    assert TOKEN not in written and text not in written
    assert "Traceback" in written and "cannot reach https://api/bot***/sendMessage" in written
    if log_json:
        assert "_send" in json.loads(written.splitlines()[0])["exception"]
