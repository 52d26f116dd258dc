"""Update middlewares: identity, the interaction log with redelivery dedupe, throttling, UoW."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.observability import Metrics
from bot.outbound import begin_capture, end_capture, write_records
from bot.replica_state import MemoryUpdateDedupe, Throttle, UpdateDedupe
from common.clock import Clock
from common.i18n import Catalog
from concierge.identity import Identity, identity_of
from concierge.notify import bind_unit_of_work, release_unit_of_work
from concierge.request_access import RequestRefused
from crm_adapter.dto import LinkedAccount
from crm_adapter.port import Crm, DuplicateUpdate, Owner

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def describe_update(update: Update) -> tuple[str, str | None, dict[str, Any]]:
    """(kind, text, payload) of an inbound update, as stored in the interaction log."""
    if update.message is not None:
        msg = update.message
        text = msg.text or msg.caption
        kind = "command" if (msg.text or "").startswith("/") else "message"
        payload: dict[str, Any] = {"content_type": msg.content_type, "message_id": msg.message_id}
        if msg.reply_to_message is not None:
            payload["reply_to"] = msg.reply_to_message.message_id
        return kind, text, payload
    if update.callback_query is not None:
        cq = update.callback_query
        return "callback", cq.data, {"callback_id": cq.id}
    return update.event_type, None, {}


class UpdateContextMiddleware(BaseMiddleware):
    """Outer middleware for every update.

    Resolves who is writing, logs the update as an interaction (the unique update id makes a
    redelivered update a no-op), applies flood control, then runs the handler inside one unit
    of work that is committed only if the handler succeeds. The log is committed first so a
    failing handler never erases the record of what the person sent.
    """

    def __init__(
        self,
        *,
        crm: Crm,
        clock: Clock,
        catalog: Catalog,
        throttle: Throttle,
        default_language: str,
        dedupe: UpdateDedupe | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.crm = crm
        self.clock = clock
        self.catalog = catalog
        self.throttle = throttle
        self.default_language = default_language
        self.dedupe = dedupe or MemoryUpdateDedupe()
        self.metrics = metrics or Metrics()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        user = data.get("event_from_user")
        chat = data.get("event_chat")
        if user is None:
            # Channel posts and similar carry no person; nothing here is for us.
            return None
        # The fast shared claim spares the database most redeliveries (and keeps a second
        # replica from even starting); the unique update_id below stays the durable guard.
        if not await self.dedupe.claim(event.update_id):
            self.metrics.duplicates.labels("fast").inc()
            log.info("duplicate update %s ignored (claim)", event.update_id)
            return None
        chat_id = chat.id if chat else None
        identity = Identity(user_id=user.id, chat_id=chat_id, language=self.default_language)

        def inbound(found: LinkedAccount | None) -> dict[str, Any]:
            nonlocal identity
            identity = identity_of(
                found, user_id=user.id, chat_id=chat_id, default_language=self.default_language
            )
            kind, text, payload = describe_update(event)
            return {
                "occurred_at": self.clock.now(),
                "channel": "messenger",
                "direction": "in",
                "kind": kind,
                "actor": identity.actor,
                "client_id": identity.client_id,
                "staff_id": identity.staff_id,
                "chat_id": chat_id,
                "text": text,
                "payload": payload,
                "update_id": event.update_id,
            }

        try:
            # Committed on its own before the handler: a failing handler never erases the
            # record of what the person sent, and the unique update_id refuses redeliveries.
            await self.crm.ledger.open_update(user.id, inbound)
        except DuplicateUpdate:
            self.metrics.duplicates.labels("database").inc()
            log.info("duplicate update %s ignored", event.update_id)
            return None
        except BaseException:
            # Not recorded: let Telegram's redelivery through instead of losing the update.
            await self.dedupe.release(event.update_id)
            raise

        allowed, warn = await self.throttle.allow(user.id)
        data["identity"] = identity
        data["t"] = self.catalog.translator(identity.language)
        if not allowed:
            self.metrics.throttled.inc()
            log.warning("throttled user_id=%s", user.id)
            if warn and chat is not None:
                await data["bot"].send_message(chat.id, data["t"]("errors.throttled"))
            return None
        # The handler's unit of work connects only when the handler touches the database.
        async with self.crm.unit_of_work(interactive=True) as uow:
            data["uow"] = uow
            token = begin_capture()
            bound = bind_unit_of_work(uow)
            try:
                result = await _run_handler(handler, event, data)
                await uow.commit()
            except BaseException:
                await uow.rollback()
                await self._log_replies(end_capture(token), chat_id, owners={})
                raise
            finally:
                release_unit_of_work(bound)
            owners: dict[int, Owner] = {}
            if chat_id is not None and identity.link is not None and not uow.relinked:
                # Spares the look-up; after a (re)link the chat's owner is read afresh.
                owners[chat_id] = (identity.client_id, identity.staff_id)
        await self._log_replies(end_capture(token), chat_id, owners=owners)
        return result

    async def _log_replies(
        self, records: list[dict[str, Any]], chat_id: int | None, *, owners: dict[int, Owner]
    ) -> None:
        """Logs the replies of an update after its transaction, in one of their own."""
        try:
            await write_records(self.crm, records, default_chat_id=chat_id, known_owners=owners)
        except Exception:
            # The messages were delivered; a lost log line is reported, not shown to anyone.
            log.exception("could not log %d outgoing calls", len(records))


async def _run_handler(handler: Handler, event: Update, data: dict[str, Any]) -> Any:
    """The handler; a refusal from a use case is answered here for every handler alike.

    A refused request ends normally, so the unit of work commits: the use case audited the
    attempt in it. The person is told why: an alert on the pressed button, else a message.
    """
    try:
        return await handler(event, data)
    except RequestRefused as refused:
        await _tell_refusal(event, data, refused)
        return None


async def _tell_refusal(event: Update, data: dict[str, Any], refused: RequestRefused) -> None:
    log.info("request %s refused: %s", refused.request_id, refused.reason.value)
    text = data["t"](f"requests.refused.{refused.reason.value}")
    bot = data["bot"]
    if event.callback_query is not None:
        await bot.answer_callback_query(event.callback_query.id, text=text, show_alert=True)
    elif event.message is not None:
        await bot.send_message(event.message.chat.id, text)
