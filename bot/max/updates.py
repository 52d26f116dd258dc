"""MAX events as Telegram-shaped updates, so the same routers and filters handle them.

Two differences are settled here, once, instead of in every handler:

- **A private chat is the person.** In Telegram a private chat's id is the user's id, and
  handlers answer a button press in `query.from_user.id`. A MAX dialog has an id of its own;
  the transport addresses dialogs by the user (`POST /messages?user_id=`), so here a dialog's
  chat id is the sender's user id. Group chats and channels are not the bank's channel: their
  events are dropped.
- **Update ids are stable.** MAX numbers its feed with a cursor (`marker`) that webhooks do
  not carry. The dedupe of redelivered updates needs an id that is the same every time an
  event arrives, by polling or by webhook, so it is derived from the event itself (its
  message id, or the pressed keyboard, user and time).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from aiogram import Bot
from aiogram.types import Update

log = logging.getLogger(__name__)

# Update ids fit PostgreSQL's BIGINT (signed 64 bits).
_ID_MASK = (1 << 63) - 1


def update_id_of(event: Mapping[str, Any]) -> int:
    """A stable id for one MAX event: what identifies it, hashed to 63 bits."""
    kind = str(event.get("update_type"))
    if kind == "message_callback":
        callback = event.get("callback") or {}
        user = callback.get("user") or {}
        key = "|".join(
            str(p)
            for p in (
                kind,
                callback.get("callback_id"),
                callback.get("timestamp"),
                user.get("user_id"),
                callback.get("payload"),
            )
        )
    elif isinstance(event.get("message"), Mapping):
        body = event["message"].get("body") or {}
        key = f"{kind}|{body.get('mid')}|{body.get('seq')}"
    else:
        user = event.get("user") or {}
        key = f"{kind}|{event.get('chat_id')}|{user.get('user_id')}|{event.get('timestamp')}"
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & _ID_MASK


def to_update(event: Mapping[str, Any], bot: Bot | None = None) -> Update | None:
    """The aiogram update for a MAX event, bound to `bot`; None for events the bank's bot does
    not handle (group chats, edits, removals) and for malformed ones (logged, never raised:
    one bad event must not stop polling)."""
    try:
        raw = telegram_shape(event)
        if raw is None:
            return None
        return Update.model_validate(raw, context={"bot": bot} if bot is not None else {})
    except (KeyError, TypeError, ValueError):  # pydantic's ValidationError is a ValueError
        # Named by its type only: the event's values may hold what a person wrote.
        log.warning("malformed MAX event dropped: %s", event.get("update_type"))
        return None


def telegram_shape(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The update as Telegram's JSON (see the module docstring), or None."""
    kind = event.get("update_type")
    update_id = update_id_of(event)
    locale = event.get("user_locale")
    if kind == "message_created":
        message = event.get("message")
        if not isinstance(message, Mapping) or not _in_dialog(message):
            return None
        return {"update_id": update_id, "message": _message(message, locale=locale)}
    if kind == "message_callback":
        callback = event["callback"]
        person = _user(callback["user"], locale)
        query: dict[str, Any] = {
            "id": str(callback["callback_id"]),
            "from": person,
            "chat_instance": str(person["id"]),
            "data": callback.get("payload"),
        }
        message = event.get("message")
        if isinstance(message, Mapping):
            if not _in_dialog(message):
                return None
            query["message"] = _message(message, chat_id=person["id"], locale=locale)
        return {"update_id": update_id, "callback_query": query}
    if kind == "bot_started":
        # "Start", or a deep link max.ru/<bot>?start=<code>: Telegram's /start with its code.
        person = _user(event["user"], locale)
        payload = event.get("payload")
        return {
            "update_id": update_id,
            "message": {
                "message_id": 0,
                "date": _seconds(event.get("timestamp")),
                "chat": {"id": person["id"], "type": "private"},
                "from": person,
                "text": f"/start {payload}" if payload else "/start",
            },
        }
    if kind == "bot_stopped":
        # The person stopped (blocked) the bot: Telegram tells the same by a member update.
        person = _user(event["user"], locale)
        return {"update_id": update_id, "my_chat_member": _membership(person, event, "kicked")}
    return None


def sent_message(raw: Mapping[str, Any], chat_id: int) -> dict[str, Any]:
    """A message the bot sent to the person `chat_id`, as Telegram's (what aiogram returns
    for a send)."""
    return _message(raw, chat_id=chat_id)


def _in_dialog(message: Mapping[str, Any]) -> bool:
    recipient = message.get("recipient") or {}
    return bool(recipient.get("chat_type", "dialog") == "dialog")


def _seconds(milliseconds: Any) -> int:
    return int(milliseconds or 0) // 1000


def _user(raw: Mapping[str, Any], locale: Any = None) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": int(raw["user_id"]),
        "is_bot": bool(raw.get("is_bot", False)),
        # Telegram requires a first name; MAX may send only `name`.
        "first_name": raw.get("first_name") or raw.get("name") or "MAX",
    }
    for key in ("last_name", "username"):
        if raw.get(key):
            user[key] = raw[key]
    if isinstance(locale, str) and locale:
        user["language_code"] = locale.split("-")[0]
    return user


def _message(
    raw: Mapping[str, Any], *, chat_id: int | None = None, locale: Any = None
) -> dict[str, Any]:
    """A MAX message as Telegram's; `chat_id` for a bot's own message (the person's id)."""
    body = raw.get("body") or {}
    sender = raw.get("sender")
    author = _user(sender, locale) if isinstance(sender, Mapping) else None
    if chat_id is None:
        if author is None:
            raise ValueError("a person's message without its sender")
        chat_id = int(author["id"])
    message: dict[str, Any] = {
        "message_id": int(body.get("seq") or 0),
        "date": _seconds(raw.get("timestamp")),
        "chat": {"id": chat_id, "type": "private"},
    }
    if author is not None:
        message["from"] = author
    link = raw.get("link") or {}
    linked = link.get("message") or {}
    text = body.get("text")
    if link.get("type") == "forward":
        # A forwarded message keeps its text (and files) inside the link only.
        text = text or linked.get("text")
        body = {**body, "attachments": body.get("attachments") or linked.get("attachments")}
    elif link.get("type") == "reply" and linked:
        message["reply_to_message"] = {
            "message_id": int(linked.get("seq") or 0),
            "date": message["date"],
            "chat": message["chat"],
            "text": linked.get("text"),
        }
    if text:
        message["text"] = text
    message.update(_attachments(body.get("attachments") or []))
    return _with_caption(message)


def _attachments(attachments: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Files as Telegram's content fields. A MAX file comes as a URL: it stands in for
    Telegram's file id, and the transport downloads it directly (no getFile in MAX)."""
    fields: dict[str, Any] = {}
    for attachment in attachments:
        kind = attachment.get("type")
        payload = attachment.get("payload") or {}
        url = payload.get("url")
        if kind == "inline_keyboard":
            # The keyboard a pressed button was on: Telegram sends it with the press (the
            # interaction log names the button by its label from it).
            keyboard = _keyboard(payload.get("buttons"))
            if keyboard is not None:
                fields.setdefault("reply_markup", keyboard)
            continue
        if kind == "location":
            fields.setdefault(
                "location",
                {"latitude": attachment["latitude"], "longitude": attachment["longitude"]},
            )
        if not url:
            continue
        file = {"file_id": url, "file_unique_id": str(payload.get("token") or url)[:64]}
        if kind == "image":
            fields.setdefault("photo", [{**file, "width": 0, "height": 0}])
        elif kind in ("file", "audio", "video"):
            fields.setdefault(
                "document",
                {
                    **file,
                    "file_name": attachment.get("filename") or kind,
                    "file_size": attachment.get("size"),
                },
            )
        elif kind == "sticker":
            fields.setdefault(
                "sticker",
                {
                    **file,
                    "type": "regular",
                    "width": int(attachment.get("width") or 0),
                    "height": int(attachment.get("height") or 0),
                    "is_animated": False,
                    "is_video": False,
                },
            )
    return fields


def _keyboard(rows: Any) -> dict[str, Any] | None:
    """MAX's inline keyboard as Telegram's: its callback and link buttons (all MAX has)."""
    keyboard = []
    for row in rows if isinstance(rows, list) else []:
        buttons = [_button(b) for b in row if isinstance(b, Mapping)]
        if kept := [b for b in buttons if b is not None]:
            keyboard.append(kept)
    return {"inline_keyboard": keyboard} if keyboard else None


def _button(button: Mapping[str, Any]) -> dict[str, Any] | None:
    text = str(button.get("text") or "")
    if button.get("type") == "callback" and isinstance(button.get("payload"), str):
        return {"text": text, "callback_data": button["payload"]}
    if button.get("type") == "link" and isinstance(button.get("url"), str):
        return {"text": text, "url": button["url"]}
    return None


def _with_caption(message: dict[str, Any]) -> dict[str, Any]:
    # Telegram puts the text of a message with a file in its caption.
    if "text" in message and any(k in message for k in ("photo", "document")):
        message["caption"] = message.pop("text")
    return message


def _membership(person: dict[str, Any], event: Mapping[str, Any], status: str) -> dict[str, Any]:
    bot_user = {"id": 0, "is_bot": True, "first_name": "bot"}
    return {
        "chat": {"id": person["id"], "type": "private"},
        "from": person,
        "date": _seconds(event.get("timestamp")),
        "old_chat_member": {"status": "member", "user": bot_user},
        "new_chat_member": {"status": status, "user": bot_user, "until_date": 0},
    }
