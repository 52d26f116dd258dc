"""Admission at the door: the check-in code a guest gets with their seat, and checking it.

Codes stay short (six characters read aloud at the door, 31^6 of them), so their stored
hashes are keyed (HMAC-SHA256 with BOT_CHECKIN_SECRET): a copy of the database alone cannot
be searched for them, as an unkeyed hash could be in under an hour. At the door, a staff
member who enters wrong codes again and again is locked out for a while, every attempt
audited, so the codes cannot be guessed there either.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from common.clock import Clock
from common.settings import Settings, get_settings
from concierge.events.model import EventStatus, InvitationStatus
from crm_adapter.dto import Client, Event, Invitation
from crm_adapter.port import UnitOfWork

# No 0/O, 1/I/L: the code is read aloud at the door.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


# Wrong codes one staff member may enter within the window before /checkin refuses them.
MAX_WRONG_CODES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
WRONG_CODE_ACTION = "event_checkin_wrong_code"


# When the door takes codes. Guests come early to a reception and staff set up the door well
# before the start, so it opens a few hours ahead; it stays open to the end of the day the
# event ends on (local time), so a late guest or a code entered after a long evening still
# counts. Outside that window a right code is refused: admitting a guest two weeks early
# would report them as attended in the brief and the attendance figures.
DOOR_OPENS_BEFORE = timedelta(hours=3)


def door_opens_at(event: Event) -> datetime:
    return event.starts_at - DOOR_OPENS_BEFORE


def door_closes_at(event: Event) -> datetime:
    """Midnight after the event's last day, in the event's own time zone."""
    tz = ZoneInfo(event.timezone)
    last_day = event.ends_at.astimezone(tz).date()
    return datetime.combine(last_day + timedelta(days=1), time(), tzinfo=tz)


class CheckinKeyMissing(RuntimeError):
    """Production runs only with BOT_CHECKIN_SECRET: every process must hash codes alike."""


class CheckinKey:
    """The secret that keys check-in code hashes."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("a check-in key needs at least 16 bytes")
        self._secret = secret

    def digest(self, code: str) -> str:
        message = f"checkin:{normalise_code(code)}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    @classmethod
    def from_settings(cls, settings: Settings) -> CheckinKey:
        secret = settings.behaviour.checkin_secret
        if secret is not None and secret.get_secret_value():
            return cls(secret.get_secret_value().encode())
        if settings.environment == "production":
            raise CheckinKeyMissing("set BOT_CHECKIN_SECRET (the same on every process)")
        return cls(_installation_secret(settings.var_dir / "checkin.key"))


def _installation_secret(path: Path) -> bytes:
    """A random key made once per installation (console, scheduler and bot share var/)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(descriptor, "w") as out:
        out.write(secrets.token_hex(32))
    return path.read_bytes().strip()


@lru_cache(maxsize=1)
def process_key() -> CheckinKey:
    """The key of this process, from its settings (read once)."""
    return CheckinKey.from_settings(get_settings())


def hash_checkin_code(code: str, key: CheckinKey | None = None) -> str:
    # Stored hashed so that staff reading the CRM cannot check someone else in, and keyed so
    # that a stolen copy of the CRM cannot be searched for the codes.
    return (key or process_key()).digest(code)


async def issue_code(uow: UnitOfWork, key: CheckinKey | None = None) -> tuple[str, str]:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        digest = hash_checkin_code(code, key)
        # Codes are looked up without the event, so they must be unique across events.
        if await uow.events.by_checkin_hash(digest) is None:
            return code, digest


class CheckInOutcome(StrEnum):
    CHECKED_IN = "ok"
    WRONG = "wrong"
    TWICE = "twice"
    NOT_ATTENDING = "not_attending"
    CANCELLED = "cancelled"
    # A right code outside the door's window (DOOR_OPENS_BEFORE .. door_closes_at).
    TOO_EARLY = "too_early"
    TOO_LATE = "too_late"
    # Too many wrong codes from this staff member lately: not even looked up.
    LOCKED = "locked"


@dataclass(frozen=True)
class CheckInResult:
    outcome: CheckInOutcome
    client: Client | None = None
    event: Event | None = None
    invitation: Invitation | None = None


async def check_in(
    uow: UnitOfWork, *, clock: Clock, staff_id: int, code: str, key: CheckinKey | None = None
) -> CheckInResult:
    """Admits a guest by the code from their confirmation; every attempt is audited.

    A right code is taken only while the door is open (from DOOR_OPENS_BEFORE the start to
    the end of the event's last day); before or after, it is refused and the guest stays
    as they were.

    After MAX_WRONG_CODES wrong codes within LOCKOUT_WINDOW the staff member's attempts are
    refused unchecked until the oldest of them leaves the window (the caller commits a
    refusal too, so the audit trail and the count survive).
    """
    now = clock.now()
    wrong = await uow.audit.count(
        action=WRONG_CODE_ACTION, actor_staff_id=staff_id, since=now - LOCKOUT_WINDOW
    )
    if wrong >= MAX_WRONG_CODES:
        await uow.audit.record(
            now=now,
            action="event_checkin_locked",
            outcome="denied",
            actor_staff_id=staff_id,
            details={"wrong_codes": wrong},
        )
        return CheckInResult(CheckInOutcome.LOCKED)
    invitation = await uow.events.by_checkin_hash(hash_checkin_code(code, key))
    event = await uow.events.get(invitation.event_id) if invitation else None
    client = await uow.clients.get(invitation.client_id) if invitation else None
    if invitation is None or event is None:
        outcome = CheckInOutcome.WRONG
    elif event.status == EventStatus.CANCELLED:
        outcome = CheckInOutcome.CANCELLED
    elif now < door_opens_at(event):
        outcome = CheckInOutcome.TOO_EARLY
    elif now >= door_closes_at(event):
        outcome = CheckInOutcome.TOO_LATE
    elif invitation.status == InvitationStatus.CHECKED_IN:
        outcome = CheckInOutcome.TWICE
    elif invitation.status != InvitationStatus.ACCEPTED:
        outcome = CheckInOutcome.NOT_ATTENDING
    else:
        invitation = await uow.events.update_invitation(
            invitation.id, status=InvitationStatus.CHECKED_IN, checked_in_at=now
        )
        outcome = CheckInOutcome.CHECKED_IN
    await uow.audit.record(
        now=now,
        action=WRONG_CODE_ACTION if outcome is CheckInOutcome.WRONG else "event_checkin",
        outcome="ok" if outcome is CheckInOutcome.CHECKED_IN else "denied",
        actor_staff_id=staff_id,
        subject_client_id=client.id if client else None,
        details={"event": event.id if event else None, "result": outcome.value},
    )
    return CheckInResult(outcome, client, event, invitation)
