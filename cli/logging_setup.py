"""Logging: structured, with ids only; message texts and names never go to the log."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog

from common.sensitive import scrub_log_line
from common.settings import Settings

log = logging.getLogger(__name__)

# Libraries that write what passes through them at DEBUG or INFO: SQL statements and the
# rows they touched (aiosqlite logs each call with its parameters), HTTP request bodies (a
# question sent to the LLM endpoint), every update. Whatever LOG_LEVEL says, they stay at
# WARNING; their warnings and errors still come through.
QUIET_LOGGERS = (
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "sqlalchemy.orm",
    "aiosqlite",
    "asyncpg",
    "psycopg",
    "httpx",
    "httpcore",
    "openai",
    "urllib3",
    "chromadb",
    # Per-update INFO lines from aiogram carry no ids we need and flood the log.
    "aiogram.event",
)

# pydantic's error text repeats the refused input ("input_value='…'"): a malformed update
# or a refused form field would put what a person typed into the log.
_PYDANTIC_INPUT_RE = re.compile(r"input_value=.*, input_type=")


def _scrubber(secret: str | None) -> structlog.types.Processor:
    """Masks the token and any sensitive data in every string of the event, the traceback
    included, before it is rendered (after rendering, JSON escapes would hide the digits)."""

    def scrub(value: str) -> str:
        if secret:
            value = value.replace(secret, "***")
        value = _PYDANTIC_INPUT_RE.sub("input_value=<hidden>, input_type=", value)
        return scrub_log_line(value)

    def processor(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in event_dict.items():
            if isinstance(value, str):
                event_dict[key] = scrub(value)
        return event_dict

    return processor


class _MaskedFormatter(structlog.stdlib.ProcessorFormatter):
    """Masks the bot token in the finished line, the traceback included: aiogram and aiohttp
    put request URLs, which embed the token, into log messages and exception texts."""

    def __init__(self, *args: Any, secret: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secret = secret

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return line.replace(self.secret, "***") if self.secret else line


def effective_level(settings: Settings) -> tuple[str, bool]:
    """The root level to use, and whether LOG_LEVEL=DEBUG was refused (in production)."""
    level = settings.log_level.upper()
    if level == "DEBUG" and settings.environment == "production":
        return "INFO", True
    return level, False


def configure_logging(settings: Settings, *, to_file: Path | None = None) -> None:
    """Standard logging rendered by structlog; the console mode logs to a file instead.

    Tracebacks are plain, without the values of local variables: structlog's default
    console tracebacks show them, and an update's locals hold message texts, names and the
    token-bearing request URL. Every string is scrubbed of sensitive data before rendering.
    In production LOG_LEVEL=DEBUG is refused (INFO is used, and a warning says so): debug
    lines of our own code name what they work on.
    """
    token = settings.telegram.bot_token
    secret = token.get_secret_value() if token else None
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    formatter = _MaskedFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The traceback as text, so the scrubber sees it; plain, without locals.
            structlog.processors.format_exc_info,
            _scrubber(secret),
            renderer,
        ],
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        secret=secret,
    )
    if to_file is not None:
        to_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(to_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level, refused = effective_level(settings)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if refused:
        log.warning("LOG_LEVEL=DEBUG is refused in production; logging at INFO")
