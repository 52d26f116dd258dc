"""Drives the real dispatcher with real `Update` objects and records every outgoing API call.

In the spirit of aiogram's own MockedBot: nothing reaches Telegram; assertions are made on the
requests the bot made, exactly as Telegram would have received them.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiogram.methods import AnswerCallbackQuery, SendDocument, SendMessage, TelegramMethod
from aiogram.types import (
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)

from bot.app import App, build_app
from bot.local_session import LocalSession, sample_content
from bot.notifier import direct_notifier
from bot.outbound import begin_capture, end_capture, write_records
from common.clock import Clock
from common.settings import Settings
from concierge.linking import issue_link_code
from crm_adapter.sql import SqlCrm, SqlUnitOfWork
from tests.factories import MiniBank, make_bank


@dataclass
class Recorded:
    method: TelegramMethod[Any]
    result: Any


class RecordingSession(LocalSession):
    def __init__(self) -> None:
        super().__init__(sink=self._record)
        self.calls: list[Recorded] = []

    def _record(self, method: TelegramMethod[Any], result: Any) -> None:
        self.calls.append(Recorded(method, result))


class MessengerHarness(ABC):
    """The set-up steps a journey takes the same way in either messenger.

    A subclass says how a person opens the bot by a deep link and presses a button; linking an
    account and staffing the mini bank are then written once for Telegram and MAX.
    """

    app: App
    clock: Clock

    @abstractmethod
    def user(self, user_id: int, first_name: str = "Тест", language_code: str = "ru") -> User:
        """A person of this messenger."""

    @abstractmethod
    async def start(self, user: User, payload: str | None = None) -> Sequence[object]:
        """Opens the bot by a deep link carrying `payload`."""

    @abstractmethod
    async def press_button(self, user: User, label_part: str) -> Sequence[object]:
        """Presses the newest button sent to `user` whose label contains `label_part`."""

    @asynccontextmanager
    async def job_unit(self) -> AsyncIterator[SqlUnitOfWork]:
        """A unit of work to call a use case in as a job or the desk does, outside an update
        (the caller commits).

        The tests' direct notifier sends at once, and a message sent while the use case holds
        SQLite's write turn would have its log line wait for that turn until the lock times
        out (30 s, then an error; in production the outbox queues in the same transaction).
        So, as during an update, the lines are kept and written once the unit of work ends.
        """
        captured = begin_capture()
        try:
            async with self.app.crm.unit_of_work() as uow:
                yield uow
        finally:
            await write_records(self.app.crm, end_capture(captured))

    async def link_code(self, *, client_id: int | None = None, staff_id: int | None = None) -> str:
        """A one-time link code issued by the bank, as the CRM hands it out."""
        async with self.app.crm.unit_of_work() as uow:
            issued = await issue_link_code(
                uow, clock=self.clock, client_id=client_id, staff_id=staff_id
            )
            await uow.commit()
        return issued.code

    async def link(
        self,
        user: User,
        *,
        client_id: int | None = None,
        staff_id: int | None = None,
        consent: bool = True,
    ) -> None:
        """Links the account by the one-time code in a deep link, optionally giving consent."""
        await self.start(user, await self.link_code(client_id=client_id, staff_id=staff_id))
        if client_id is not None and consent:
            await self.press_button(
                user, "Даю согласие" if user.language_code != "en" else "consent"
            )

    async def linked_bank(
        self,
        *,
        client: int | None = None,
        manager: int | None = None,
        backup: int | None = None,
        coordinator: int | None = None,
        admin: int | None = None,
        duty: int | None = None,
    ) -> MiniBank:
        """The mini bank with the given users linked: the client with consent, each named member
        of staff to their own record."""
        bank = await make_bank(self.app.crm)
        if client is not None:
            await self.link(self.user(client), client_id=bank.client_id)
        for user_id, staff_id in (
            (manager, bank.manager_id),
            (backup, bank.backup_id),
            (coordinator, bank.coordinator_id),
            (admin, bank.admin_id),
            (duty, bank.duty_id),
        ):
            if user_id is not None:
                await self.link(self.user(user_id), staff_id=staff_id)
        return bank


class BotHarness(MessengerHarness):
    """Feeds updates into `app.dispatcher` as person X and lets tests read what the bot did."""

    def __init__(self, app: App, session: RecordingSession) -> None:
        self.app = app
        self.session = session
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self.clock: Clock = app.clock

    # --- people -----------------------------------------------------------------------
    def user(self, user_id: int, first_name: str = "Тест", language_code: str = "ru") -> User:
        return User(id=user_id, is_bot=False, first_name=first_name, language_code=language_code)

    # --- updates ----------------------------------------------------------------------
    def _message(self, user: User, **fields: Any) -> Message:
        return Message(
            message_id=next(self._message_ids),
            date=self.clock.now(),
            chat=Chat(id=user.id, type="private"),
            from_user=user,
            **fields,
        )

    async def feed(self, update: Update) -> list[TelegramMethod[Any]]:
        """Processes one update; returns the calls the bot made while handling it."""
        before = len(self.session.calls)
        await self.app.dispatcher.feed_update(self.app.bot, update)
        return [c.method for c in self.session.calls[before:]]

    def update(self, **event: Any) -> Update:
        return Update(update_id=next(self._update_ids), **event)

    async def send(self, user: User, text: str, **fields: Any) -> list[TelegramMethod[Any]]:
        return await self.feed(self.update(message=self._message(user, text=text, **fields)))

    async def send_content(self, user: User, content: str) -> list[TelegramMethod[Any]]:
        fields = sample_content(content)
        assert fields is not None, content
        return await self.feed(self.update(message=self._message(user, **fields)))

    async def press(
        self, user: User, data: str, *, message: Message | None = None
    ) -> list[TelegramMethod[Any]]:
        query = CallbackQuery(
            id=str(next(self._update_ids)),
            from_user=user,
            chat_instance="ci",
            data=data,
            message=message or self._message(user, text="…"),
        )
        return await self.feed(self.update(callback_query=query))

    async def press_button(self, user: User, label_part: str) -> list[TelegramMethod[Any]]:
        """Presses the newest button sent to `user` whose label contains `label_part`."""
        for call in reversed(self.session.calls):
            markup = getattr(call.method, "reply_markup", None)
            if getattr(call.method, "chat_id", None) != user.id or not isinstance(
                markup, InlineKeyboardMarkup
            ):
                continue
            for row in markup.inline_keyboard:
                for button in row:
                    if label_part in button.text and button.callback_data:
                        message = call.result if isinstance(call.result, Message) else None
                        return await self.press(user, button.callback_data, message=message)
        raise AssertionError(f"no button with {label_part!r} was sent to {user.id}")

    async def start(self, user: User, payload: str | None = None) -> list[TelegramMethod[Any]]:
        """Opens the bot by a deep link t.me/<bot>?start=<payload> (or presses Start)."""
        return await self.send(user, "/start" if payload is None else f"/start {payload}")

    # --- reading what the bot did --------------------------------------------------------
    def texts(self, chat_id: int | None = None) -> list[str]:
        out = []
        for call in self.session.calls:
            method = call.method
            if isinstance(method, SendMessage) and (chat_id is None or method.chat_id == chat_id):
                out.append(method.text)
            elif isinstance(method, SendDocument) and (
                chat_id is None or method.chat_id == chat_id
            ):
                out.append(method.caption or "")
        return out

    def last_text(self, chat_id: int) -> str:
        texts = self.texts(chat_id)
        assert texts, f"nothing was sent to {chat_id}"
        return texts[-1]

    def last_message(self, chat_id: int) -> Message:
        """The newest message the bot put in the chat, as Telegram returned it (to reply to)."""
        for call in reversed(self.session.calls):
            if getattr(call.method, "chat_id", None) == chat_id and isinstance(
                call.result, Message
            ):
                return call.result
        raise AssertionError(f"no message was sent to {chat_id}")

    def last_buttons(self, chat_id: int) -> list[str]:
        """Labels of the newest inline keyboard sent to the chat."""
        for call in reversed(self.session.calls):
            markup = getattr(call.method, "reply_markup", None)
            if getattr(call.method, "chat_id", None) == chat_id and isinstance(
                markup, InlineKeyboardMarkup
            ):
                return [b.text for row in markup.inline_keyboard for b in row]
        raise AssertionError(f"no keyboard was sent to {chat_id}")

    def alerts(self) -> list[str]:
        return [
            c.method.text or ""
            for c in self.session.calls
            if isinstance(c.method, AnswerCallbackQuery)
        ]


def recorded_harness(
    settings: Settings, *, clock: Clock, crm: SqlCrm | None = None, **services: Any
) -> BotHarness:
    """The assistant built as a process builds it, Telegram recorded in-process and every
    message sent at once (the direct notifier); `services` go to `build_app` as they are.
    The caller closes `harness.session`."""
    session = RecordingSession()
    app = build_app(
        settings,
        session=session,
        clock=clock,
        notifier_factory=direct_notifier,
        crm=crm,
        **services,
    )
    return BotHarness(app, session)


def now_utc() -> datetime:
    return datetime.now(UTC)
