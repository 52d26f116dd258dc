"""Logging: structured, with ids only; message texts and names never go to the log."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import structlog

from bot.settings import Settings


class _DropTokens(logging.Filter):
    """aiogram and aiohttp may log request URLs that embed the bot token: mask them."""

    def __init__(self, secret: str | None) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secret:
            message = record.getMessage()
            if self.secret in message:
                record.msg = message.replace(self.secret, "***")
                record.args = ()
        return True


def configure_logging(settings: Settings, *, to_file: Path | None = None) -> None:
    """Standard logging rendered by structlog; the console mode logs to a file instead."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processor=renderer,
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
    )
    if to_file is not None:
        to_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(to_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    token = settings.telegram.bot_token
    handler.addFilter(_DropTokens(token.get_secret_value() if token else None))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Per-update INFO lines from aiogram carry no ids we need and flood the log.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    # Chroma's HTTP client logs every request at INFO: with a Chroma server each replica
    # checks the index every few seconds, which buried the log in request lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
