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


async def _guest_with_code(harness: BotHarness, clock: ManualClock) -> tuple[MiniBank, str]:
    """An open event tonight and the client's accepted invitation with its code."""
    bank = await make_bank(harness.app.crm)
    await harness.link(harness.user(COORDINATOR), staff_id=bank.coordinator_id)
    now = clock.now()
    async with harness.app.crm.unit_of_work() as uow:
        event = await uow.events.add(
            title="Ужин с экономистом",
            starts_at=now + timedelta(minutes=10),
            ends_at=now + timedelta(hours=3),
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
