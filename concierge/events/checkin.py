"""Admission at the door: the check-in code a guest gets with their seat, and checking it."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from common.clock import Clock
from concierge.events.model import EventStatus, InvitationStatus
from crm_adapter.dto import Client, Event, Invitation
from crm_adapter.port import UnitOfWork

# No 0/O, 1/I/L: the code is read aloud at the door.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_checkin_code(code: str) -> str:
    # Stored hashed so that staff reading the CRM cannot check someone else in.
    return hashlib.sha256(f"checkin:{normalise_code(code)}".encode()).hexdigest()


async def issue_code(uow: UnitOfWork) -> tuple[str, str]:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        digest = hash_checkin_code(code)
        # Codes are looked up without the event, so they must be unique across events.
        if await uow.events.by_checkin_hash(digest) is None:
            return code, digest


class CheckInOutcome(StrEnum):
    CHECKED_IN = "ok"
    WRONG = "wrong"
    TWICE = "twice"
    NOT_ATTENDING = "not_attending"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class CheckInResult:
    outcome: CheckInOutcome
    client: Client | None = None
    event: Event | None = None
    invitation: Invitation | None = None


async def check_in(uow: UnitOfWork, *, clock: Clock, staff_id: int, code: str) -> CheckInResult:
    """Admits a guest by the code from their confirmation; every attempt is audited."""
    now = clock.now()
    invitation = await uow.events.by_checkin_hash(hash_checkin_code(code))
    event = await uow.events.get(invitation.event_id) if invitation else None
    client = await uow.clients.get(invitation.client_id) if invitation else None
    if invitation is None or event is None:
        outcome = CheckInOutcome.WRONG
    elif event.status == EventStatus.CANCELLED:
        outcome = CheckInOutcome.CANCELLED
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
        action="event_checkin",
        outcome="ok" if outcome is CheckInOutcome.CHECKED_IN else "denied",
        actor_staff_id=staff_id,
        subject_client_id=client.id if client else None,
        details={"event": event.id if event else None, "result": outcome.value},
    )
    return CheckInResult(outcome, client, event, invitation)
