"""Signing staff in to the web desk without passwords.

A staff member asks for a login link in their linked messenger (`/web`, or an administrator's
`concierge web-link`); the link carries a random single-use code that expires within minutes,
and only its hash is stored. Opening it starts a session whose random token lives in the
browser's cookie (again only its hash is stored). Sessions end at sign-out, after an idle
period, after a fixed lifetime, and the moment the CRM deactivates the person. Every sign-in,
refused or not, is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from common.clock import Clock
from common.i18n import Translator
from common.settings import WebSettings
from concierge.notify import Notifier, Outgoing
from crm_adapter.dto import Staff
from crm_adapter.port import UnitOfWork

SECRET_BYTES = 32
# A page view refreshes the session's last-seen time at most this often: the idle timeout
# needs minutes, not a write on every request.
TOUCH_EVERY = timedelta(seconds=60)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.strip().encode()).hexdigest()


@dataclass(frozen=True)
class DeskPolicy:
    login_link_ttl: timedelta = timedelta(minutes=10)
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)

    @classmethod
    def from_settings(cls, web: WebSettings) -> DeskPolicy:
        return cls(
            login_link_ttl=timedelta(minutes=web.login_link_minutes),
            idle=timedelta(minutes=web.idle_minutes),
            lifetime=timedelta(hours=web.session_hours),
        )


@dataclass(frozen=True)
class IssuedLogin:
    code: str
    expires_at: datetime

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/login/{self.code}"


def may_use_desk(staff: Staff | None) -> bool:
    """Active staff holding any role; what each page shows is decided by the roles."""
    return staff is not None and staff.active and bool(staff.roles)


async def issue_login(
    uow: UnitOfWork, *, clock: Clock, staff: Staff, policy: DeskPolicy
) -> IssuedLogin | None:
    """A fresh single-use login code for `staff`; None (audited) when they may not sign in."""
    now = clock.now()
    if not may_use_desk(staff):
        await uow.audit.record(
            now=now, action="web_login_link", outcome="denied", actor_staff_id=staff.id
        )
        return None
    code = secrets.token_urlsafe(SECRET_BYTES)
    expires_at = now + policy.login_link_ttl
    await uow.web_access.add_login_code(
        code_hash=secret_hash(code), staff_id=staff.id, now=now, expires_at=expires_at
    )
    await uow.audit.record(now=now, action="web_login_link", actor_staff_id=staff.id)
    return IssuedLogin(code=code, expires_at=expires_at)


def login_link_text(t: Translator, issued: IssuedLogin, *, base_url: str, timezone: str) -> str:
    until = issued.expires_at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    return t("web.login_link", url=issued.url(base_url), until=until)


async def send_login_link(
    uow: UnitOfWork,
    notifier: Notifier,
    *,
    clock: Clock,
    staff: Staff,
    policy: DeskPolicy,
    base_url: str,
    t: Translator,
) -> bool:
    """Issues a login link and hands it to the notifier for the staff member's messenger.

    The link is never returned: whoever asks (an administrator at the command line) cannot
    sign in as someone else, only the owner of the linked messenger account can.
    """
    issued = await issue_login(uow, clock=clock, staff=staff, policy=policy)
    if issued is None:
        return False
    text = login_link_text(t, issued, base_url=base_url, timezone=staff.timezone)
    return await notifier.to_staff(staff.id, Outgoing(text=text, kind="web_login"))


class LoginOutcome(StrEnum):
    SIGNED_IN = "signed_in"
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"
    NO_ACCESS = "no_access"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    token: str | None = None
    staff: Staff | None = None


async def sign_in(uow: UnitOfWork, *, clock: Clock, code: str, policy: DeskPolicy) -> LoginResult:
    """Redeems a login code for a session token; refused codes are audited with the reason."""
    now = clock.now()
    found = await uow.web_access.login_code(secret_hash(code)) if code.strip() else None
    staff = await uow.staff.get(found.staff_id) if found is not None else None
    outcome: LoginOutcome
    if found is None:
        outcome = LoginOutcome.INVALID
    elif found.used_at is not None:
        outcome = LoginOutcome.USED
    elif found.expires_at <= now:
        outcome = LoginOutcome.EXPIRED
    elif not may_use_desk(staff):
        outcome = LoginOutcome.NO_ACCESS
    elif not await uow.web_access.claim_login_code(found.id, now=now):
        outcome = LoginOutcome.USED
    else:
        outcome = LoginOutcome.SIGNED_IN
    await uow.audit.record(
        now=now,
        action="web_login",
        outcome="ok" if outcome is LoginOutcome.SIGNED_IN else "denied",
        actor_staff_id=found.staff_id if found is not None else None,
        details={"result": outcome.value},
    )
    if outcome is not LoginOutcome.SIGNED_IN or staff is None:
        return LoginResult(outcome)
    token = secrets.token_urlsafe(SECRET_BYTES)
    await uow.web_access.add_session(
        token_hash=secret_hash(token),
        staff_id=staff.id,
        now=now,
        expires_at=now + policy.lifetime,
    )
    return LoginResult(outcome, token=token, staff=staff)


@dataclass(frozen=True)
class DeskSession:
    id: int
    staff: Staff


async def resume(
    uow: UnitOfWork, *, clock: Clock, token: str, policy: DeskPolicy
) -> DeskSession | None:
    """The live session of this cookie token, with its staff member as the CRM has them now."""
    if not token:
        return None
    now = clock.now()
    found = await uow.web_access.session(secret_hash(token))
    if (
        found is None
        or found.ended_at is not None
        or found.expires_at <= now
        or found.last_seen_at + policy.idle <= now
    ):
        return None
    staff = await uow.staff.get(found.staff_id)
    if not may_use_desk(staff):
        await uow.web_access.end_session(found.id, now=now)
        return None
    assert staff is not None
    if now - found.last_seen_at >= TOUCH_EVERY:
        await uow.web_access.touch_session(found.id, now=now)
    return DeskSession(id=found.id, staff=staff)


async def sign_out(uow: UnitOfWork, *, clock: Clock, session: DeskSession) -> None:
    now = clock.now()
    await uow.web_access.end_session(session.id, now=now)
    await uow.audit.record(now=now, action="web_logout", actor_staff_id=session.staff.id)
