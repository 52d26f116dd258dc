"""`python -m bench.max_standin`: MAX's Bot API on loopback, and a console to be a MAX user.

Run it, point the assistant at it, and talk to the bot as a MAX client would; whatever the
bot sends to anyone in MAX is printed here:

    python -m bench.max_standin                       # terminal 1
    MAX_BOT_TOKEN=local-max-token MAX_API_URL=http://127.0.0.1:8091 make run   # terminal 2
    concierge link C-0001                             # terminal 3: the bank's one-time code

then, in terminal 1, `:start <code>` and on (`:help`). The assistant reaches the stand-in by
long polling, or by webhook once it subscribes one (MAX_MODE=webhook).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import re
import sys
from typing import Any, TextIO

from bench.max_standin import Limits, MaxStandIn, Sent
from bot.console import console_lines, is_interactive

DEFAULT_TOKEN = "local-max-token"
DEFAULT_USER = 5001

HELP = """Console commands (anything else is a message from you to the bot):
  :as <user id> [name]   be another MAX user (each has their own chat)
  :start [code]          open the bot, by the bank's link code if given
  :press <n|label>       press button n of the newest keyboard sent to you, or by label
  :reply <text>          reply to the newest message the bot sent you
  :send photo|document   send a file
  :stop                  stop the bot (MAX's "block"); :start again to come back
  :help, :quit"""


class StandInConsole:
    """Turns console lines into MAX events from the current user."""

    def __init__(self, api: MaxStandIn, out: TextIO) -> None:
        self.api = api
        self.out = out
        self.user = api.person(DEFAULT_USER, "Гость")
        self.running = True
        api.on_sent.append(self._show)

    def write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _show(self, sent: Sent, edited: bool) -> None:
        text = html.unescape(re.sub(r"<[^>]+>", "", sent.text))
        verb = "edited for" if edited else "to"
        self.write(f"\n── {verb} MAX user {sent.user_id} ──\n{text}")
        labels = [b.get("text", "") for b in sent.buttons()]
        if labels:
            self.write("   " + "  ".join(f"[{i}] {label}" for i, label in enumerate(labels, 1)))

    async def handle(self, line: str) -> None:
        line = line.strip()
        if not line or line.startswith("#"):
            return
        if not line.startswith(":"):
            await self.api.deliver(self.api.event_message(self.user, line))
            return
        command, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        if command == "as":
            await self._become(rest)
        elif command == "start":
            await self.api.deliver(self.api.event_started(self.user, rest or None))
        elif command == "stop":
            await self.api.deliver(self.api.event_stopped(self.user))
        elif command == "press":
            await self._press(rest)
        elif command == "reply":
            mine = self.api.messages_to(self.user["user_id"])
            if not mine:
                self.write("(nothing to reply to)")
                return
            await self.api.deliver(self.api.event_message(self.user, rest, reply_to=mine[-1]))
        elif command == "send":
            await self._send_file(rest)
        elif command == "help":
            self.write(HELP)
        elif command == "quit":
            self.running = False
        else:
            self.write("(unknown command; :help lists them)")

    async def _become(self, rest: str) -> None:
        ref, _, name = rest.partition(" ")
        if not ref.isdigit():
            self.write("(usage: :as 5002 [name])")
            return
        self.user = self.api.person(int(ref), name.strip() or "Гость")
        self.write(f"(you are now MAX user {ref})")

    async def _press(self, ref: str) -> None:
        for sent in reversed(self.api.messages_to(self.user["user_id"])):
            buttons = [b for b in sent.buttons() if b.get("type") == "callback"]
            if not buttons:
                continue
            chosen: dict[str, Any] | None = None
            if ref.isdigit() and 1 <= int(ref) <= len(buttons):
                chosen = buttons[int(ref) - 1]
            else:
                chosen = next((b for b in buttons if ref.lower() in b["text"].lower()), None)
            if chosen is not None:
                await self.api.deliver(self.api.event_press(self.user, sent, chosen["payload"]))
                return
            if ref.isdigit():
                break
        self.write("(no such button on your messages)")

    async def _send_file(self, kind: str) -> None:
        if kind == "photo":
            event = self.api.event_file(self.user, "image", b"\x89PNG demo", "photo.png")
        elif kind == "document":
            event = self.api.event_file(self.user, "file", b"%PDF demo", "scan.pdf")
        else:
            self.write("(send what? photo or document)")
            return
        await self.api.deliver(event)


async def _connected(api: MaxStandIn, console: StandInConsole, seconds: float = 300) -> None:
    """Until the assistant polls the stand-in or subscribes its webhook (it loads its
    knowledge model first), so a script's first line is not sent into the void."""
    console.write("(waiting for the assistant to connect…)")
    async with asyncio.timeout(seconds):
        while not api.subscriptions and not any(r.path == "/updates" for r in api.requests):
            await asyncio.sleep(0.2)
    console.write("(the assistant is connected)")


async def _quiet(api: MaxStandIn, wait: float) -> None:
    """Until the bot has sent nothing for `wait` seconds (scripts read the answers first)."""
    seen = -1
    while seen != len(api.sent):
        seen = len(api.sent)
        await asyncio.sleep(wait)


async def run(args: argparse.Namespace, source: TextIO | None = None) -> None:
    limits = Limits(per_second=args.per_second)
    api = await MaxStandIn(token=args.token, limits=limits).start(args.port)
    console = StandInConsole(api, sys.stdout)
    console.write(
        f"MAX Bot API stand-in on {api.base_url} (token {args.token!r}).\n"
        f"Start the assistant against it:\n  MAX_BOT_TOKEN={args.token} "
        f"MAX_API_URL={api.base_url} concierge run --channel max\n"
        "Get a link code with `concierge link C-0001`, then here `:start <code>`. :help"
    )
    interactive = is_interactive(source)
    try:
        if not interactive:
            await _connected(api, console)
        async for line in console_lines(
            source, lambda: f"MAX {console.user['user_id']}> ", console.write
        ):
            await console.handle(line)
            if not console.running:
                break
            if not interactive:
                await _quiet(api, args.wait)
        if not interactive and args.keep_open:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
    finally:
        await api.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--per-second", type=int, default=30, help="MAX's request rate limit")
    parser.add_argument(
        "--wait", type=float, default=1.5, help="scripts: seconds of bot silence between lines"
    )
    parser.add_argument(
        "--keep-open", action="store_true", help="scripts: keep serving after the last line"
    )
    return parser.parse_args(argv)


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(parse_args()))
