"""One-time deep-link codes that bind a messenger account to a client or a staff member."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from common.clock import Clock
from crm_adapter.dto import Messenger, MessengerLink
from crm_adapter.port import PeopleUnit, UnitOfWork

# Telegram allows [A-Za-z0-9_-] up to 64 characters in a /start payload, MAX up to 128: the
# 32 characters of 24 random bytes fit both, so one code links either messenger (once).
CODE_BYTES = 24


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at_iso: str

    def deep_link(self, bot_username: str | None) -> str:
        if bot_username:
            return f"https://t.me/{bot_username}?start={self.code}"
        return f"/start {self.code}"

    def max_link(self, bot_username: str) -> str:
        """The same code as a MAX deep link (it arrives as the bot_started payload)."""
        return f"https://max.ru/{bot_username}?start={self.code}"


async def issue_link_code(
    uow: PeopleUnit,
    *,
    clock: Clock,
    client_id: int | None = None,
    staff_id: int | None = None,
    ttl: timedelta = timedelta(hours=24),
) -> IssuedCode:
    """Creates a random single-use code; only its hash is stored."""
    if (client_id is None) == (staff_id is None):
        raise ValueError("a link code is for exactly one client or one staff member")
    code = secrets.token_urlsafe(CODE_BYTES)
    now = clock.now()
    await uow.link_codes.add(
        code_hash=hash_code(code),
        client_id=client_id,
        staff_id=staff_id,
        now=now,
        expires_at=now + ttl,
    )
    return IssuedCode(code=code, expires_at_iso=(now + ttl).isoformat(timespec="minutes"))


class LinkOutcome(StrEnum):
    LINKED = "linked"
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True)
class LinkResult:
    outcome: LinkOutcome
    link: MessengerLink | None = None


async def redeem_link_code(
    uow: PeopleUnit,
    *,
    clock: Clock,
    code: str,
    user_id: int,
    chat_id: int,
    language: str | None,
    messenger: str = Messenger.TELEGRAM.value,
) -> LinkResult:
    """Binds the `messenger` account if the code is valid, unexpired and unused; audits every
    attempt. An account the person has in another messenger stays linked."""
    now = clock.now()
    found = await uow.link_codes.by_hash(hash_code(code))
    outcome: LinkOutcome
    link: MessengerLink | None = None
    if found is None:
        outcome = LinkOutcome.INVALID
    elif found.used_at is not None:
        outcome = LinkOutcome.USED
    elif found.expires_at <= now:
        outcome = LinkOutcome.EXPIRED
    elif not await uow.link_codes.claim(found.id, user_id=user_id, now=now):
        outcome = LinkOutcome.USED
    else:
        link = await uow.links.bind(
            user_id=user_id,
            chat_id=chat_id,
            client_id=found.client_id,
            staff_id=found.staff_id,
            now=now,
            language=language,
            messenger=messenger,
        )
        outcome = LinkOutcome.LINKED
    await uow.audit.record(
        now=now,
        action="link_account",
        outcome="ok" if outcome is LinkOutcome.LINKED else "denied",
        actor_user_id=user_id,
        actor_client_id=link.client_id if link else None,
        actor_staff_id=link.staff_id if link else None,
        subject_client_id=found.client_id if found else None,
        details={"result": outcome.value, "messenger": messenger},
    )
    return LinkResult(outcome, link)


async def record_reachability(
    uow: UnitOfWork, *, clock: Clock, link: MessengerLink, reachable: bool
) -> None:
    """The person stopped (blocked) the bot in one messenger, or came back to it.

    Only that messenger's account changes: a person linked elsewhere still gets the bank's
    messages there (see `LinkRepository.for_client`). Logged in the person's history.
    """
    if reachable == (link.blocked_at is None):
        return
    now = clock.now()
    if reachable:
        await uow.links.mark_unblocked(link.chat_id, messenger=link.messenger)
    else:
        await uow.links.mark_blocked(link.chat_id, now=now, messenger=link.messenger)
    await uow.interactions.record(
        occurred_at=now,
        channel="messenger",
        messenger=link.messenger,
        direction="internal",
        kind="channel_unblocked" if reachable else "channel_blocked",
        actor="client" if link.client_id is not None else "staff",
        client_id=link.client_id,
        staff_id=link.staff_id,
        chat_id=link.chat_id,
    )
