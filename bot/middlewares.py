"""Update middlewares: identity, the interaction log with redelivery dedupe, throttling, UoW."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, TelegramObject, Update

from bot.channels import messenger_of, shared_key
from bot.observability import Metrics
from bot.outbound import begin_capture, end_capture, write_records
from bot.replica_state import MemoryUpdateDedupe, Throttle, UpdateDedupe
from common.clock import Clock
from common.i18n import Catalog
from common.sensitive import Masked, mask
from concierge.identity import Identity, PersonKind, identity_of
from concierge.notify import bind_unit_of_work, release_unit_of_work
from concierge.request_access import RequestRefused
from concierge.sensitive_data import warn_once
from crm_adapter.dto import LinkedAccount
from crm_adapter.port import ChatKey, Crm, DuplicateUpdate, Owner, UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# "/start <code>": the one-time link code is a credential until used.
_START_CODE_RE = re.compile(r"^(/start(?:@\w+)?)\s+\S.*", re.DOTALL)


def describe_update(update: Update) -> tuple[str, str | None, dict[str, Any]]:
    """(kind, text, payload) of an inbound update, as stored in the interaction log (the
    storage masks sensitive numbers in the text; a link code is masked here)."""
    if update.message is not None:
        msg = update.message
        text = msg.text or msg.caption
        if msg.text is not None and text is not None:
            text = _START_CODE_RE.sub(r"\1 [code]", text)
        kind = "command" if (msg.text or "").startswith("/") else "message"
        payload: dict[str, Any] = {"content_type": msg.content_type, "message_id": msg.message_id}
        if msg.reply_to_message is not None:
            payload["reply_to"] = msg.reply_to_message.message_id
        return kind, text, payload
    if update.callback_query is not None:
        cq = update.callback_query
        return "callback", cq.data, {"callback_id": cq.id}
    return update.event_type, None, {}


def pressed_label(query: CallbackQuery) -> str | None:
    """The label of the button pressed, from the keyboard of the message it was on (Telegram
    sends it with the press; a MAX press carries its message too)."""
    markup = getattr(query.message, "reply_markup", None)
    if query.data is None or not isinstance(markup, InlineKeyboardMarkup):
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None


def keeps_texts(identity: Identity) -> bool:
    """Whether what this person writes may be stored: staff, and clients with active consent.

    After consent is withdrawn, and for people nobody linked, the log keeps who, when, what
    kind and which update (the update id still refuses redeliveries), never the text.
    """
    return identity.kind is PersonKind.STAFF or (
        identity.kind is PersonKind.CLIENT and identity.consent
    )


def inbound_row(
    update: Update, identity: Identity, *, now: datetime, chat_id: int | None
) -> tuple[dict[str, Any], Masked | None]:
    """The interaction row of an inbound update, and a client's message text as masked (to
    tell them, once, to keep card and identity data out of the chat)."""
    kind, text, payload = describe_update(update)
    client_text = identity.kind is PersonKind.CLIENT and update.message is not None
    sensitive = mask(text) if text and client_text else None
    if not keeps_texts(identity):
        text, payload = _metadata_only(kind, text, payload)
    elif identity.kind is PersonKind.CLIENT and update.callback_query is not None:
        # The bank's CRM shows a client's press by what they read on the button (the
        # callback data is a code). Clients' only: their presses alone go to the CRM, and
        # staff's keyboards name clients (the payload is not masked).
        label = pressed_label(update.callback_query)
        if label is not None:
            payload = {**payload, "button": label}
    row = {
        "occurred_at": now,
        "channel": "messenger",
        "direction": "in",
        "kind": kind,
        "actor": identity.actor,
        "client_id": identity.client_id,
        "staff_id": identity.staff_id,
        "chat_id": chat_id,
        "text": text,
        "payload": payload,
        "update_id": update.update_id,
        "messenger": identity.messenger,
    }
    return row, sensitive


def _metadata_only(
    kind: str, text: str | None, payload: dict[str, Any]
) -> tuple[str | None, dict[str, Any]]:
    # A command's name says what was asked without anything the person typed after it.
    command = text.split(maxsplit=1)[0][:32] if kind == "command" and text else None
    kept = {k: v for k, v in payload.items() if k in ("content_type", "message_id", "callback_id")}
    return command, kept


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
        messenger = messenger_of(data["bot"])
        claim = shared_key(messenger, event.update_id)
        # The fast shared claim spares the database most redeliveries (and keeps a second
        # replica from even starting); the unique update_id below stays the durable guard.
        if not await self.dedupe.claim(claim):
            self.metrics.duplicates.labels("fast").inc()
            log.info("duplicate %s update %s ignored (claim)", messenger, event.update_id)
            return None
        chat_id = chat.id if chat else None
        identity = Identity(
            user_id=user.id, chat_id=chat_id, language=self.default_language, messenger=messenger
        )
        sensitive: Masked | None = None

        def inbound(found: LinkedAccount | None) -> dict[str, Any]:
            nonlocal identity, sensitive
            identity = identity_of(
                found,
                user_id=user.id,
                chat_id=chat_id,
                default_language=self.default_language,
                messenger=messenger,
            )
            row, sensitive = inbound_row(event, identity, now=self.clock.now(), chat_id=chat_id)
            return row

        try:
            # Committed on its own before the handler: a failing handler never erases the
            # record of what the person sent, and the unique update_id refuses redeliveries.
            await self.crm.ledger.open_update(user.id, inbound, messenger=messenger)
        except DuplicateUpdate:
            self.metrics.duplicates.labels("database").inc()
            log.info("duplicate %s update %s ignored", messenger, event.update_id)
            return None
        except BaseException:
            # Not recorded: let the messenger's redelivery through instead of losing it.
            await self.dedupe.release(claim)
            raise

        data["identity"] = identity
        data["t"] = self.catalog.translator(identity.language)
        if await self._throttled(identity, data):
            return None
        # The handler's unit of work connects only when the handler touches the database.
        async with self.crm.unit_of_work(interactive=True) as uow:
            data["uow"] = uow
            token = begin_capture()
            bound = bind_unit_of_work(uow)
            try:
                result = await _run_handler(handler, event, data)
                await self._warn_once(uow, identity, sensitive, data)
                await uow.commit()
            except BaseException:
                await uow.rollback()
                await self._log_replies(end_capture(token), chat_id, owners={})
                raise
            finally:
                release_unit_of_work(bound)
            owners: dict[ChatKey, Owner] = {}
            if chat_id is not None and identity.link is not None and not uow.relinked:
                # Spares the look-up; after a (re)link the chat's owner is read afresh.
                owners[messenger, chat_id] = (identity.client_id, identity.staff_id)
        await self._log_replies(end_capture(token), chat_id, owners=owners)
        return result

    async def _throttled(self, identity: Identity, data: dict[str, Any]) -> bool:
        """Flood control per person and messenger; the first refusal of a window is told."""
        allowed, warn = await self.throttle.allow(shared_key(identity.messenger, identity.user_id))
        if allowed:
            return False
        self.metrics.throttled.inc()
        log.warning("throttled user_id=%s", identity.user_id)
        if warn and identity.chat_id is not None:
            await data["bot"].send_message(identity.chat_id, data["t"]("errors.throttled"))
        return True

    async def _warn_once(
        self, uow: UnitOfWork, identity: Identity, sensitive: Masked | None, data: dict[str, Any]
    ) -> None:
        """Tells the client, once ever, to keep card and identity data out of the chat when
        their message held some (it is stored and relayed masked either way)."""
        if identity.client is None or identity.chat_id is None or sensitive is None:
            return
        if await warn_once(uow, client=identity.client, masked=sensitive, now=self.clock.now()):
            await data["bot"].send_message(identity.chat_id, data["t"]("sensitive.client_warning"))

    async def _log_replies(
        self,
        records: list[dict[str, Any]],
        chat_id: int | None,
        *,
        owners: dict[ChatKey, Owner],
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
