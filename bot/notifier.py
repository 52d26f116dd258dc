"""Sends notifications straight to the messenger, bypassing the outbox and its contact policy.

No process runs with it (`cli.assembly` always queues through the outbox): it serves the
tests and benchmarks that assert on what reaches the messenger within the same update.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile

from bot.actions import render
from concierge.notify import Outgoing, current_unit_of_work
from crm_adapter.dto import MessengerLink
from crm_adapter.sql import SqlCrm

log = logging.getLogger(__name__)


class DirectNotifier:
    def __init__(self, *, bots: Mapping[str, Bot], crm: SqlCrm) -> None:
        self.bots = bots
        self.crm = crm

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[Any]:
        # Inside an update, read through the handler's own unit of work: a second session
        # would take a second pooled connection while the handler's may hold SQLite's write
        # turn, and under concurrent updates the pool can run dry that way (a deadlock until
        # the pool times out).
        bound = current_unit_of_work()
        if bound is not None:
            yield bound
            return
        async with self.crm.unit_of_work() as uow:
            yield uow

    async def to_staff(self, staff_id: int, message: Outgoing) -> bool:
        async with self._reading() as uow:
            link = await uow.links.for_staff(staff_id)
        return await self._send(link, message)

    async def to_client(self, client_id: int, message: Outgoing) -> bool:
        async with self._reading() as uow:
            link = await uow.links.for_client(client_id)
            consent = await uow.consents.current(client_id)
        if consent is None or not consent.active:
            log.info("client %s has no active consent; notification not sent", client_id)
            return False
        return await self._send(link, message)

    async def _send(self, link: MessengerLink | None, message: Outgoing) -> bool:
        if link is None or link.blocked_at is not None:
            return False
        bot = self.bots.get(link.messenger)
        if bot is None:
            log.warning("no %s bot in this process; notification not sent", link.messenger)
            return False
        try:
            if message.document is not None:
                name, content = message.document
                await bot.send_document(
                    link.chat_id,
                    BufferedInputFile(content, filename=name),
                    caption=message.text[:1024],
                    reply_markup=render(message.actions),
                )
            else:
                await bot.send_message(
                    link.chat_id, message.text, reply_markup=render(message.actions)
                )
        except TelegramAPIError:
            log.exception("notification to chat failed")
            return False
        return True


def direct_notifier(bots: Mapping[str, Bot], crm: SqlCrm) -> DirectNotifier:
    """The `notifier_factory` of `bot.app.build_app` for tests and benchmarks."""
    return DirectNotifier(bots=bots, crm=crm)
