"""Check-in codes: keyed hashes at rest and a lockout at the door.

Regression tests for issue 21: the 31^6 codes were stored as unsalted SHA-256, searchable
from a copy of the database in under an hour, and /checkin took guesses without limit.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from common.clock import ManualClock
from common.settings import BehaviourSettings, Settings
from concierge.events.checkin import (
    DOOR_OPENS_BEFORE,
    LOCKOUT_WINDOW,
    MAX_WRONG_CODES,
    CheckinKey,
    CheckinKeyMissing,
    hash_checkin_code,
    issue_code,
)
from crm_adapter import models as m
from tests.factories import MiniBank, make_bank
from tests.harness import BotHarness

COORDINATOR = 8601


async def _guest_with_code(
    harness: BotHarness,
    clock: ManualClock,
    *,
    starts_in: timedelta = timedelta(minutes=10),
) -> tuple[MiniBank, str]:
    """An open event (tonight unless `starts_in` says otherwise) and the client's accepted
    invitation with its code."""
    bank = await make_bank(harness.app.crm)
    await harness.link(harness.user(COORDINATOR), staff_id=bank.coordinator_id)
    now = clock.now()
    async with harness.app.crm.unit_of_work() as uow:
        event = await uow.events.add(
            title="Ужин с экономистом",
            starts_at=now + starts_in,
            ends_at=now + starts_in + timedelta(hours=3),
            capacity=10,
            status="open",
            coordinator_id=bank.coordinator_id,
            created_at=now,
        )
        invitation = await uow.events.add_invitation(
            event_id=event.id, client_id=bank.client_id, status="sent", sent_at=now
        )
        code, digest = await issue_code(uow)
        await uow.events.update_invitation(
            invitation.id, status="accepted", checkin_code_hash=digest
        )
        await uow.commit()
    return bank, code


async def _count(harness: BotHarness, action: str) -> int:
    async with harness.app.crm.unit_of_work() as uow:
        return int(
            await uow.session.scalar(select(func.count()).where(m.AuditEntryRow.action == action))
            or 0
        )


async def test_brute_force_at_the_door_is_locked_out_and_audited(
    harness: BotHarness, clock: ManualClock
) -> None:
    _, code = await _guest_with_code(harness, clock)
    coordinator = harness.user(COORDINATOR)
    for guess in ("AAAAAA", "BBBBBB", "CCCCCC", "DDDDDD", "EEEEEE")[:MAX_WRONG_CODES]:
        await harness.send(coordinator, f"/checkin {guess}")
        assert "Код не найден" in harness.last_text(COORDINATOR)
    # Even the right code is not looked up while locked.
    await harness.send(coordinator, f"/checkin {code}")
    assert "Слишком много неверных кодов" in harness.last_text(COORDINATOR)
    assert await _count(harness, "event_checkin_wrong_code") == MAX_WRONG_CODES
    assert await _count(harness, "event_checkin_locked") == 1
    assert await _count(harness, "event_checkin") == 0

    clock.advance(LOCKOUT_WINDOW + timedelta(seconds=1))
    await harness.send(coordinator, f"/checkin {code}")
    assert "Вход: <b>Волков Иван Петрович</b>" in harness.last_text(COORDINATOR)


async def test_stored_hashes_are_keyed(harness: BotHarness, clock: ManualClock) -> None:
    _, code = await _guest_with_code(harness, clock)
    async with harness.app.crm.unit_of_work() as uow:
        stored = await uow.session.scalar(select(m.InvitationRow.checkin_code_hash))
    unkeyed = hashlib.sha256(f"checkin:{code}".encode()).hexdigest()
    assert stored == hash_checkin_code(code) and stored != unkeyed
    # Without the key the code cannot be confirmed, with another key neither.
    other = CheckinKey(b"another installation's secret")
    assert other.digest(code) != stored


def test_production_needs_the_checkin_secret(tmp_path: Path) -> None:
    with pytest.raises(CheckinKeyMissing):
        CheckinKey.from_settings(
            Settings(environment="production", **{"CONCIERGE_VAR_DIR": tmp_path})
        )
    keyed = Settings(
        environment="production",
        behaviour=BehaviourSettings(checkin_secret=SecretStr("x" * 32)),
        **{"CONCIERGE_VAR_DIR": tmp_path},
    )
    assert CheckinKey.from_settings(keyed).digest("abc-123") == CheckinKey(b"x" * 32).digest(
        "ABC123"
    )


def test_a_local_installation_makes_its_key_once(tmp_path: Path) -> None:
    # By its variable's name: the field reads CONCIERGE_VAR_DIR only.
    settings = Settings(environment="local", **{"CONCIERGE_VAR_DIR": tmp_path})
    first = CheckinKey.from_settings(settings).digest("ABC123")
    assert CheckinKey.from_settings(settings).digest("ABC123") == first
    key_file = tmp_path / "checkin.key"
    assert key_file.stat().st_mode & 0o077 == 0


async def _invitation_status(harness: BotHarness) -> str:
    async with harness.app.crm.unit_of_work() as uow:
        return str(await uow.session.scalar(select(m.InvitationRow.status)))


async def test_the_door_takes_codes_only_around_the_event(
    harness: BotHarness, clock: ManualClock
) -> None:
    """A right code two weeks early was admitted, and the brief then said the client had
    attended. The door opens DOOR_OPENS_BEFORE the start and closes at the end of the day."""
    # DEFAULT_NOW is 18:00 in Moscow: the event starts in 14 days at 19:00.
    _, code = await _guest_with_code(harness, clock, starts_in=timedelta(days=14, hours=1))
    coordinator = harness.user(COORDINATOR)
    await harness.send(coordinator, f"/checkin {code}")
    refused = harness.last_text(COORDINATOR)
    assert "Регистрация на «Ужин с экономистом» ещё не открыта" in refused
    assert "коды принимаются с 06.12.2026 16:00" in refused
    assert await _invitation_status(harness) == "accepted"
    # A right code early is no guess: it does not count towards the lockout.
    assert await _count(harness, "event_checkin_wrong_code") == 0

    clock.advance(timedelta(days=14, hours=1) - DOOR_OPENS_BEFORE - timedelta(minutes=1))
    await harness.send(coordinator, f"/checkin {code}")
    assert "ещё не открыта" in harness.last_text(COORDINATOR)
    clock.advance(timedelta(minutes=1))
    await harness.send(coordinator, f"/checkin {code}")
    assert "Вход: <b>Волков Иван Петрович</b>" in harness.last_text(COORDINATOR)
    assert await _invitation_status(harness) == "checked_in"


async def test_after_the_event_day_the_door_is_closed_in_english_too(
    harness: BotHarness, clock: ManualClock
) -> None:
    # The event ends at 22:00 in Moscow; the door takes codes until midnight.
    _, code = await _guest_with_code(harness, clock, starts_in=timedelta(hours=1))
    coordinator = harness.user(COORDINATOR)
    await harness.send(coordinator, "/language")
    await harness.press_button(coordinator, "English")
    clock.advance(timedelta(hours=6))  # 00:00 in Moscow, the next day
    await harness.send(coordinator, f"/checkin {code}")
    assert "“Ужин с экономистом” is over: check-in is closed." in harness.last_text(COORDINATOR)
    assert await _invitation_status(harness) == "accepted"
    async with harness.app.crm.unit_of_work() as uow:
        row = (
            await uow.session.execute(
                select(m.AuditEntryRow.outcome, m.AuditEntryRow.details).where(
                    m.AuditEntryRow.action == "event_checkin"
                )
            )
        ).one()
    assert row.outcome == "denied" and row.details["result"] == "too_late"
