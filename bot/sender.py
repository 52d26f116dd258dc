"""The delivery worker's channel for a messenger bot: one outbox message, one API request.

It serves Telegram and MAX alike: both are aiogram bots, and the MAX transport raises
aiogram's exceptions for MAX's errors (`bot.max.session`). Those are translated into the
worker's neutral outcomes here, so the worker's retry and blocking rules know nothing of
aiogram.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, Message

from bot.actions import render_stored
from bot.outbound import logged_by_caller
from scheduler.channel import (
    Delivery,
    RecipientBlocked,
    Rejected,
    RetryLater,
    TransientFailure,
)

CAPTION_LIMIT = 1024


class BotSender:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, delivery: Delivery) -> int:
        try:
            # The worker logs the delivered message itself, with its outbox id.
            with logged_by_caller():
                sent = await self._request(delivery)
        except TelegramRetryAfter as exc:
            raise RetryLater(float(exc.retry_after)) from exc
        except TelegramForbiddenError as exc:
            raise RecipientBlocked(str(exc)) from exc
        except (TelegramNetworkError, TelegramServerError) as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc
        except TelegramBadRequest as exc:
            raise Rejected(str(exc)) from exc
        return sent.message_id

    async def _request(self, delivery: Delivery) -> Message:
        keyboard = render_stored(delivery.actions)
        if delivery.document is not None:
            name, content = delivery.document
            return await self.bot.send_document(
                delivery.chat_id,
                BufferedInputFile(content, filename=name),
                caption=delivery.text[:CAPTION_LIMIT],
                reply_markup=keyboard,
                parse_mode=ParseMode.HTML,
            )
        return await self.bot.send_message(
            delivery.chat_id, delivery.text, reply_markup=keyboard, parse_mode=ParseMode.HTML
        )
