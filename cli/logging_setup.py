"""Logging: structured, with ids only; message texts and names never go to the log."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import structlog

from common.settings import Settings


class _MaskedFormatter(structlog.stdlib.ProcessorFormatter):
    """Masks the bot token in the finished line, the traceback included: aiogram and aiohttp
    put request URLs, which embed the token, into log messages and exception texts."""

    def __init__(self, *args: Any, secret: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secret = secret

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return line.replace(self.secret, "***") if self.secret else line


def configure_logging(settings: Settings, *, to_file: Path | None = None) -> None:
    """Standard logging rendered by structlog; the console mode logs to a file instead.

    Tracebacks are plain, without the values of local variables: structlog's default
    console tracebacks show them, and an update's locals hold message texts, names and the
    token-bearing request URL.
    """
    renderers: list[structlog.types.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if settings.log_json
        else [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    token = settings.telegram.bot_token
    formatter = _MaskedFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        secret=token.get_secret_value() if token else None,
    )
    if to_file is not None:
        to_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(to_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Per-update INFO lines from aiogram carry no ids we need and flood the log.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    # Chroma's HTTP client logs every request at INFO: with a Chroma server each replica
    # checks the index every few seconds, which buried the log in request lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
