"""The local console messenger: drives the real dispatcher from a terminal, a script or stdin.

Every line you type is sent to the bot as a text message from the current persona; lines
starting with ':' are console commands (switch persona, press a button, reply, send a photo).
Whatever the bot sends, to anyone, is printed with its recipient, so proactive messages to a
manager or a client show up as they happen.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol, TextIO, TypeVar

from aiogram.methods import (
    AnswerCallbackQuery,
    CopyMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    ForwardMessage,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)

from bot.app import App
from bot.channels import MAX, MESSENGER_NAMES, TELEGRAM
from bot.local_session import LocalSession, sample_content
from common.clock import ManualClock
from concierge.linking import issue_link_code

# Messenger user ids the console gives to people, by kind; far from real Telegram ids.
CLIENT_USER_BASE = 7_000_000
STAFF_USER_BASE = 8_000_000
STRANGER_USER_BASE = 9_000_000
# In MAX the same people have other ids (each messenger numbers its users).
MAX_USER_OFFSET = 10_000_000

HELP = """Console commands (everything else is sent to the bot as a message):
  :as client <C-0001|id> [--channel max]   become a client (linked by a one-time code on
                           first use), in Telegram or in MAX (one person may use both)
  :as staff <S-0001|id> [--channel max]    become a staff member (manager, coordinator,
                           duty desk, admin)
  :as new                  become a stranger whose account is not linked
  :press <n|label>         press button n (or the one whose label contains the text)
  :reply <text>            reply to the last message the bot sent you (used by managers)
  :send <photo|document|sticker|voice>   send a non-text message
  :clock +<minutes>m|+<hours>h           move the console clock forward (with --clock)
  :jobs                    run the scheduler's jobs now (escalations, briefings, reminders...)
  :who                     show the current persona
  :help                    this help
  :quit                    leave"""


@dataclass
class Persona:
    user: User
    label: str
    client_id: int | None = None
    staff_id: int | None = None
    messenger: str = TELEGRAM


@dataclass
class Button:
    label: str
    data: str
    message: Message | None

    @property
    def message_id(self) -> int | None:
        return self.message.message_id if self.message is not None else None


# Keyboards remembered per chat for `:press` by label (a chat scrolls back that far).
KEYBOARDS_KEPT = 20


@dataclass
class Transcript:
    """What the console has shown, per chat; the test reads it instead of the terminal."""

    out: TextIO
    names: dict[int, str] = field(default_factory=dict)
    # Every keyboard still on screen per chat, newest last: in Telegram the buttons of an
    # earlier message (the main menu above an answer) stay pressable.
    keyboards: dict[int, list[list[Button]]] = field(default_factory=dict)
    last_message: dict[int, Message] = field(default_factory=dict)

    def write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def _plain(text: str) -> str:
    """Telegram HTML to terminal text: bold stays visible as *...*, other tags go."""
    text = re.sub(r"</?b>", "*", text)
    text = re.sub(r"</?i>", "_", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text)


class ConsoleSession(LocalSession):
    def __init__(self, transcript: Transcript, *, messenger: str = TELEGRAM) -> None:
        super().__init__(sink=self._show, messenger=messenger)
        self.transcript = transcript

    def _show(self, method: TelegramMethod[Any], result: Any) -> None:
        t = self.transcript
        chat_id = getattr(method, "chat_id", None)
        who = self._who(chat_id)
        if isinstance(method, SendMessage | SendDocument | SendPhoto | CopyMessage):
            body = ""
            if isinstance(method, SendMessage):
                body = _plain(method.text)
            elif isinstance(method, SendDocument):
                name = getattr(method.document, "filename", None) or "file"
                body = f"📎 {name}" + (f"\n{_plain(method.caption)}" if method.caption else "")
            elif isinstance(method, SendPhoto):
                body = "🖼 picture" + (f"\n{_plain(method.caption)}" if method.caption else "")
            else:
                body = f"↪ copy of message {method.message_id} from chat {method.from_chat_id}"
            t.write(f"\n── to {who} ──\n{body}")
            if isinstance(result, Message) and isinstance(chat_id, int):
                t.last_message[chat_id] = result
            markup = getattr(method, "reply_markup", None)
            if isinstance(markup, InlineKeyboardMarkup) and isinstance(chat_id, int):
                self._keyboard(chat_id, markup, result if isinstance(result, Message) else None)
        elif isinstance(method, ForwardMessage):
            t.write(f"\n── to {who} ── ↪ forwarded message")
        elif isinstance(method, EditMessageText):
            t.write(f"\n── edited for {who} ──\n{_plain(method.text or '')}")
        elif isinstance(method, EditMessageReplyMarkup) and isinstance(chat_id, int):
            if method.reply_markup is None:
                t.keyboards[chat_id] = [
                    shown
                    for shown in t.keyboards.get(chat_id, [])
                    if not shown or shown[0].message_id != method.message_id
                ]
        elif isinstance(method, AnswerCallbackQuery) and method.text:
            t.write(f"   ({_plain(method.text)})")

    def _who(self, chat_id: object) -> str:
        if not isinstance(chat_id, int):
            return ""
        who = self.transcript.names.get(chat_id, f"chat {chat_id}")
        if self.messenger != TELEGRAM:
            who += f" · {MESSENGER_NAMES.get(self.messenger, self.messenger)}"
        return who

    def _keyboard(
        self, chat_id: int, markup: InlineKeyboardMarkup, message: Message | None
    ) -> None:
        buttons = [
            Button(b.text, b.callback_data, message)
            for row in markup.inline_keyboard
            for b in row
            if b.callback_data
        ]
        shown = self.transcript.keyboards.setdefault(chat_id, [])
        shown.append(buttons)
        del shown[:-KEYBOARDS_KEPT]
        numbered = "  ".join(f"[{i}] {b.label}" for i, b in enumerate(buttons, 1))
        self.transcript.write(f"   {numbered}")


Person_co = TypeVar("Person_co", covariant=True)


class _Register(Protocol[Person_co]):
    """The CRM's clients or its staff."""

    async def get(self, row_id: int, /) -> Person_co | None: ...
    async def by_external_id(self, external_id: str, /) -> Person_co | None: ...


async def _find(register: _Register[Person_co], ref: str) -> Person_co | None:
    """The person `:as client 12` (a row id) or `:as client C-0001` (the bank's code) names."""
    return await (register.get(int(ref)) if ref.isdigit() else register.by_external_id(ref))


class ConsoleMessenger:
    """Turns console lines into real Telegram updates for the app's dispatcher."""

    def __init__(self, app: App, transcript: Transcript) -> None:
        self.app = app
        self.t = transcript
        # Update ids must never repeat across console sessions on the same database: the
        # interaction log treats a known update id as a redelivery and ignores it.
        self._update_ids = itertools.count(time.time_ns() // 1000)
        self._message_ids = itertools.count(1)
        self._strangers = itertools.count(1)
        self.persona = self._stranger()
        self.running = True

    # --- personas -----------------------------------------------------------------------
    def _stranger(self) -> Persona:
        user_id = STRANGER_USER_BASE + next(self._strangers)
        persona = Persona(User(id=user_id, is_bot=False, first_name="Гость"), "new visitor")
        self.t.names[user_id] = persona.label
        return persona

    async def become(self, kind: str, ref: str, messenger: str = TELEGRAM) -> None:
        if kind == "new":
            self.persona = self._stranger()
            self.t.write(f"(you are now {self.persona.label}, not linked)")
            return
        if messenger not in self.app.messengers:
            self.t.write(f"(no {messenger} channel in this console)")
            return
        offset = MAX_USER_OFFSET if messenger == MAX else 0
        suffix = f" in {MESSENGER_NAMES[messenger]}" if messenger != TELEGRAM else ""
        async with self.app.crm.unit_of_work() as uow:
            if kind == "client":
                client = await _find(uow.clients, ref)
                if client is None:
                    self.t.write(f"(no client {ref})")
                    return
                user_id = CLIENT_USER_BASE + offset + client.id
                persona = Persona(
                    User(
                        id=user_id,
                        is_bot=False,
                        first_name=client.first_name,
                        language_code=client.language,
                    ),
                    f"{client.full_name} (client {client.external_id}){suffix}",
                    client_id=client.id,
                    messenger=messenger,
                )
            else:
                staff = await _find(uow.staff, ref)
                if staff is None:
                    self.t.write(f"(no staff member {ref})")
                    return
                user_id = STAFF_USER_BASE + offset + staff.id
                roles = ", ".join(sorted(staff.roles))
                persona = Persona(
                    User(id=user_id, is_bot=False, first_name=staff.full_name),
                    f"{staff.full_name} ({roles} {staff.external_id}){suffix}",
                    staff_id=staff.id,
                    messenger=messenger,
                )
            linked = await uow.links.by_user(user_id, messenger=messenger)
        self.persona = persona
        self.t.names[user_id] = persona.label
        self.t.write(f"(you are now {persona.label})")
        if linked is None:
            await self._link_with_code(persona)

    async def _link_with_code(self, persona: Persona) -> None:
        """Does what the bank does: issues a one-time link; the persona opens it."""
        async with self.app.crm.unit_of_work() as uow:
            issued = await issue_link_code(
                uow, clock=self.app.clock, client_id=persona.client_id, staff_id=persona.staff_id
            )
            await uow.commit()
        self.t.write("(the bank sent a one-time invitation link; opening it)")
        await self.send_text(f"/start {issued.code}", echo=True)

    # --- updates ------------------------------------------------------------------------
    def _message(self, **fields: Any) -> Message:
        user = self.persona.user
        return Message(
            message_id=next(self._message_ids),
            date=self.app.clock.now(),
            chat=Chat(id=user.id, type="private"),
            from_user=user,
            **fields,
        )

    async def _feed(self, **event: Any) -> None:
        update = Update(update_id=next(self._update_ids), **event)
        bot = self.app.messengers.get(self.persona.messenger, self.app.bot)
        await self.app.dispatcher.feed_update(bot, update)

    async def send_text(self, text: str, *, echo: bool = False, **fields: Any) -> None:
        if echo:
            self.t.write(f"{self.persona.label}> {text}")
        await self._feed(message=self._message(text=text, **fields))

    async def press(self, ref: str) -> None:
        """A number presses a button of the last keyboard; a label, the newest button that
        has it, on any message still on screen (as a person scrolls up to the menu)."""
        shown = self.t.keyboards.get(self.persona.user.id, [])
        last = shown[-1] if shown else []
        chosen: Button | None = None
        if ref.isdigit() and 1 <= int(ref) <= len(last):
            chosen = last[int(ref) - 1]
        elif ref:
            wanted = ref.lower()
            newest_first = (b for buttons in reversed(shown) for b in buttons)
            chosen = next((b for b in newest_first if wanted in b.label.lower()), None)
        if chosen is None:
            self.t.write("(no such button on your messages)")
            return
        query = CallbackQuery(
            id=str(next(self._update_ids)),
            from_user=self.persona.user,
            chat_instance="console",
            data=chosen.data,
            message=chosen.message or self._message(text="…"),
        )
        await self._feed(callback_query=query)

    async def reply(self, text: str) -> None:
        target = self.t.last_message.get(self.persona.user.id)
        if target is None:
            self.t.write("(nothing to reply to)")
            return
        await self.send_text(text, reply_to_message=target)

    async def send_content(self, kind: str) -> None:
        content = sample_content(kind)
        if content is None:
            self.t.write("(send what? photo, document, sticker or voice)")
            return
        await self._feed(message=self._message(**content))

    # --- the command line -----------------------------------------------------------------
    async def handle(self, line: str) -> None:
        line = line.strip()
        if not line or line.startswith("#"):
            return
        if not line.startswith(":"):
            await self.send_text(line)
            return
        command, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        if command == "as":
            words = rest.split()
            messenger = TELEGRAM
            if "--channel" in words:
                at = words.index("--channel")
                messenger = words[at + 1] if at + 1 < len(words) else ""
                del words[at : at + 2]
            kind, ref = (words + ["", ""])[:2]
            if (
                kind not in {"client", "staff", "manager", "new"}
                or (kind != "new" and not ref)
                or messenger not in MESSENGER_NAMES
            ):
                self.t.write(
                    "(usage: :as client C-0001 [--channel max] | :as staff S-0001 | :as new)"
                )
                return
            await self.become(
                "client" if kind == "client" else kind if kind == "new" else "staff",
                ref,
                messenger,
            )
        elif command in {"press", "reply", "send"}:
            act = {"press": self.press, "reply": self.reply, "send": self.send_content}[command]
            await act(rest)
        elif command == "clock":
            self._move_clock(rest)
        elif command == "jobs":
            await self._run_jobs()
        elif command == "who":
            self.t.write(f"(you are {self.persona.label})")
        elif command == "help":
            self.t.write(HELP)
        elif command == "quit":
            self.running = False
        else:
            self.t.write("(unknown console command; :help lists them)")

    async def _run_jobs(self) -> None:
        run = self.app.extras.get("run_jobs")
        if run is None:
            self.t.write("(the scheduler is off in this console)")
            return
        results = await run()
        self.t.write("(jobs: " + ", ".join(f"{k}={v}" for k, v in results.items()) + ")")

    def _move_clock(self, spec: str) -> None:
        clock = self.app.clock
        match = re.fullmatch(r"\+(\d+)([mh])", spec)
        if not isinstance(clock, ManualClock) or match is None:
            self.t.write("(usage: :clock +30m or +2h, with `concierge console --clock manual`)")
            return
        amount = int(match.group(1))
        delta = timedelta(minutes=amount) if match.group(2) == "m" else timedelta(hours=amount)
        self.t.write(f"(clock: {clock.advance(delta).isoformat(timespec='minutes')})")


def is_interactive(source: TextIO | None) -> bool:
    return source is None and sys.stdin.isatty()


async def console_lines(
    source: TextIO | None, prompt: Callable[[], str], echo: Callable[[str], None]
) -> AsyncIterator[str]:
    """Lines typed at the terminal (after `prompt()`), or read from a script or pipe and
    echoed after the prompt so a transcript reads like a session; ends at end of input."""
    stream = source or sys.stdin
    interactive = is_interactive(source)
    while True:
        if interactive:
            try:
                line = await asyncio.to_thread(input, prompt())
            except EOFError:
                return
        else:
            # Off the loop, like input() above: a pipe waiting for its next line must not
            # stall the scheduler or the web desk served beside the console.
            raw = await asyncio.to_thread(stream.readline)
            if not raw:
                return
            line = raw.rstrip("\n")
            if line.strip() and not line.startswith("#"):
                echo(f"{prompt()}{line}")
        yield line


async def run_console(app: App, transcript: Transcript, source: TextIO | None = None) -> None:
    """Interactive when reading a terminal, otherwise line by line from the script or pipe."""
    console = ConsoleMessenger(app, transcript)
    transcript.write("vip-concierge local console. Type :help for commands, :quit to leave.")
    async for line in console_lines(
        source, lambda: f"{console.persona.label}> ", transcript.write
    ):
        await console.handle(line)
        if not console.running:
            break
