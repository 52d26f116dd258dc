"""The production log set-up: JSON lines, tokens masked, chatty libraries kept quiet."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from cli.logging_setup import QUIET_LOGGERS, configure_logging
from common.settings import Settings, TelegramSettings

TOKEN = "123456:SECRET-token-of-the-bank-bot"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = handlers, level
    for name, saved in quiet.items():
        logging.getLogger(name).setLevel(saved)


def _logging_to_file(
    tmp_path: Path, *, log_json: bool, environment: str = "test", level: str = "INFO"
) -> Path:
    """The bot's log set-up with a token, writing to a file the test then reads."""
    settings = Settings(
        environment=environment,
        var_dir=tmp_path,
        log_json=log_json,
        log_level=level,
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


CARD = "4111 1111 1111 1111"


class _Form(BaseModel):
    amount: int


@pytest.mark.parametrize("log_json", [True, False])
def test_sensitive_data_in_messages_and_exceptions_is_masked(
    tmp_path: Path, restored_logging: None, log_json: bool
) -> None:
    log_file = _logging_to_file(tmp_path, log_json=log_json)
    logger = logging.getLogger("bot.app")
    try:
        raise ValueError(f"refused card {CARD}, phone +7 916 123-45-67")
    except ValueError:
        logger.exception("update 4815162342 failed for user_id=%s", 700100200)
    try:
        _Form.model_validate({"amount": f"паспорт 45 12 345678 карта {CARD}"})
    except ValidationError:
        logger.exception("form refused")
    for handler in logging.getLogger().handlers:
        handler.flush()

    written = log_file.read_text(encoding="utf-8")
    # Pieces with their separators: bare digits also occur in timestamps and ids.
    for secret in ("4111 1111", "916 123", "12 345678", "+7 916"):
        assert secret not in written, secret
    # Ids are no personal data: they stay, so a failure can be traced.
    assert "4815162342" in written and "700100200" in written
    assert "input_value=<hidden>" in written and "int_parsing" in written


def test_debug_is_refused_in_production_and_drivers_stay_quiet(
    tmp_path: Path, restored_logging: None
) -> None:
    log_file = _logging_to_file(tmp_path, log_json=True, environment="production", level="DEBUG")
    assert logging.getLogger().level == logging.INFO
    logging.getLogger("bot.app").debug("update 7 parsed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    events = [json.loads(line)["event"] for line in log_file.read_text().splitlines()]
    assert events == ["LOG_LEVEL=DEBUG is refused in production; logging at INFO"]


def test_debug_elsewhere_keeps_driver_loggers_quiet(
    tmp_path: Path, restored_logging: None
) -> None:
    # aiosqlite logs every call with its parameters at DEBUG; SQLAlchemy its statements.
    log_file = _logging_to_file(tmp_path, log_json=True, level="DEBUG")
    logging.getLogger("bot.app").debug("update 7 parsed")
    logging.getLogger("aiosqlite").debug("executing INSERT ... ('Волков Иван', ...)")
    logging.getLogger("sqlalchemy.engine.Engine").info("INSERT INTO note ...")
    for handler in logging.getLogger().handlers:
        handler.flush()
    events = [json.loads(line)["event"] for line in log_file.read_text().splitlines()]
    assert events == ["update 7 parsed"]
    assert all(logging.getLogger(name).level == logging.WARNING for name in QUIET_LOGGERS)
