"""Plays MAX users against the real dispatcher, with MAX's Bot API stood in on loopback.

Events are built as MAX sends them (`bench.max_standin`), converted by the real transport
(`MaxTransport.accept`) and fed to the app's dispatcher with the app's MAX bot; whatever the
bot does goes over HTTP to the stand-in, which keeps it as MAX would. The methods mirror
`tests.harness.BotHarness`, so a journey reads the same in either messenger.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import User

from bench.max_standin import MaxStandIn, Recorded, Sent
from bot.app import App
from bot.channels import MAX
from bot.local_session import sample_content
from bot.max.session import MaxTransport
from tests.harness import MessengerHarness


class MaxHarness(MessengerHarness):
    """Feeds MAX events into `app.dispatcher` through its MAX bot; reads what MAX received."""

    messenger = MAX

    def __init__(self, app: App, api: MaxStandIn) -> None:
        self.app = app
        self.api = api
        self.bot = app.messengers[MAX]
        assert isinstance(self.bot.session, MaxTransport)
        self.transport = self.bot.session
        self.clock = app.clock
        self._names: dict[int, str] = {}

    # --- people -----------------------------------------------------------------------
    def user(self, user_id: int, first_name: str = "Тест", language_code: str = "ru") -> User:
        self._names[user_id] = first_name
        return User(id=user_id, is_bot=False, first_name=first_name, language_code=language_code)

    def _person(self, user: User) -> dict[str, Any]:
        return self.api.person(user.id, user.first_name)

    # --- events -----------------------------------------------------------------------
    async def feed(self, event: dict[str, Any]) -> list[Recorded]:
        """Processes one MAX event; returns the requests the bot made to MAX meanwhile."""
        before = len(self.api.requests)
        update = self.transport.accept(event, self.bot)
        assert update is not None, event.get("update_type")
        await self.app.dispatcher.feed_update(self.bot, update)
        return self.api.requests[before:]

    async def send(
        self, user: User, text: str, *, reply_to_message: Sent | None = None
    ) -> list[Recorded]:
        return await self.feed(
            self.api.event_message(self._person(user), text, reply_to=reply_to_message)
        )

    async def send_content(self, user: User, content: str) -> list[Recorded]:
        """A file (photo, document) as MAX delivers it; a sticker as MAX's sticker."""
        if content == "photo":
            event = self.api.event_file(self._person(user), "image", b"\x89PNG-photo", "p.png")
        elif content == "document":
            event = self.api.event_file(self._person(user), "file", b"%PDF-1.4 scan", "scan.pdf")
        else:
            assert sample_content(content) is not None, content
            event = self.api.event_message(
                self._person(user),
                attachments=[
                    {
                        "type": "sticker",
                        "payload": {"url": f"{self.api.base_url}/files/s"},
                        "width": 512,
                        "height": 512,
                    }
                ],
            )
        return await self.feed(event)

    async def start(self, user: User, payload: str | None = None) -> list[Recorded]:
        """Opens the bot by a deep link max.ru/<bot>?start=<payload> (or presses Start)."""
        return await self.feed(self.api.event_started(self._person(user), payload))

    async def press(self, user: User, data: str, *, message: Sent | None = None) -> list[Recorded]:
        target = message or self._latest_sent_to(user.id)
        return await self.feed(self.api.event_press(self._person(user), target, data))

    async def press_button(self, user: User, label_part: str) -> list[Recorded]:
        """Presses the newest callback button sent to `user` whose label has `label_part`."""
        for sent in reversed(self.api.messages_to(user.id)):
            for button in sent.buttons():
                if label_part in button.get("text", "") and button.get("type") == "callback":
                    return await self.press(user, button["payload"], message=sent)
        raise AssertionError(f"no button with {label_part!r} was sent to MAX user {user.id}")

    # --- reading what the bot did --------------------------------------------------------
    def _latest_sent_to(self, user_id: int) -> Sent:
        sent = self.api.messages_to(user_id)
        assert sent, f"nothing was sent to MAX user {user_id}"
        return sent[-1]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [s.text for s in self.api.sent if chat_id is None or s.user_id == chat_id]

    def last_text(self, chat_id: int) -> str:
        texts = self.texts(chat_id)
        assert texts, f"nothing was sent to MAX user {chat_id}"
        return texts[-1]

    def last_message(self, chat_id: int) -> Sent:
        return self._latest_sent_to(chat_id)

    def last_buttons(self, chat_id: int) -> list[str]:
        for sent in reversed(self.api.messages_to(chat_id)):
            labels = [b.get("text", "") for b in sent.buttons()]
            if labels:
                return labels
        raise AssertionError(f"no keyboard was sent to MAX user {chat_id}")

    def alerts(self) -> list[str]:
        return [str(a.get("notification") or "") for a in self.api.answers]
