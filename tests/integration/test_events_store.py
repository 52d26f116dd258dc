"""Events use cases on a real database with a recording notifier, and the events CLI."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import typer
from typer.testing import CliRunner

from cli import events as events_cli
from cli.events import ImportFailed, import_events
from common.clock import ManualClock
from concierge.events.changes import change_capacity, change_event
from concierge.events.drafts import EventDraft, create_event
from concierge.events.invitations import send_invitations
from concierge.events.model import EventError
from concierge.events.reminders import send_event_reminders
from concierge.events.rsvp import Rsvp, RsvpOutcome, answer_invitation
from concierge.notify import MessageClass, Outgoing
from crm_adapter.dto import Event
from crm_adapter.sql import SqlCrm, SqlUnitOfWork
from tests.factories import MiniBank, make_bank

STARTS = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)


@dataclass
class RecordingNotifier:
    """A fake Notifier: remembers what it was given and delivers nothing."""

    to_clients: list[tuple[int, Outgoing]] = field(default_factory=list)
    to_staff_members: list[tuple[int, Outgoing]] = field(default_factory=list)

    async def to_client(self, client_id: int, message: Outgoing) -> bool:
        self.to_clients.append((client_id, message))
        return True

    async def to_staff(self, staff_id: int, message: Outgoing) -> bool:
        self.to_staff_members.append((staff_id, message))
        return True


@dataclass
class OutboxLikeNotifier(RecordingNotifier):
    """Like the scheduler's outbox: can queue inside the caller's unit of work."""

    in_transaction: list[tuple[object, int]] = field(default_factory=list)

    async def enqueue_for_client(self, uow: object, client_id: int, message: Outgoing) -> object:
        self.in_transaction.append((uow, client_id))
        return type("Enqueued", (), {"queued": True})()

    async def enqueue_for_staff(self, uow: object, staff_id: int, message: Outgoing) -> object:
        self.in_transaction.append((uow, staff_id))
        return type("Enqueued", (), {"queued": True})()


async def _consented(uow: SqlUnitOfWork, clock: ManualClock, *client_ids: int) -> None:
    for client_id in client_ids:
        await uow.consents.record(
            client_id=client_id,
            granted=True,
            document_version="v",
            channel="test",
            now=clock.now(),
        )


async def _event(
    uow: SqlUnitOfWork,
    clock: ManualClock,
    title: str,
    *,
    hours: int,
    capacity: int,
    coordinator_id: int | None = None,
    plus_ones_allowed: bool = False,
) -> Event:
    """A draft event starting at STARTS and lasting `hours`."""
    draft = EventDraft(
        title=title,
        starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=hours),
        capacity=capacity,
        plus_ones_allowed=plus_ones_allowed,
    )
    return await create_event(uow, clock=clock, draft=draft, coordinator_id=coordinator_id)


async def test_an_outbox_notifier_queues_in_the_same_transaction(
    crm: SqlCrm, clock: ManualClock
) -> None:
    notifier = OutboxLikeNotifier()
    bank = await make_bank(crm)
    async with crm.unit_of_work() as uow:
        await _consented(uow, clock, bank.client_id)
        event = await _event(uow, clock, "Сомелье", hours=2, capacity=5)
        await send_invitations(uow, notifier, clock, event.id)
        clock.advance(timedelta(days=3))
        assert await send_event_reminders(uow, notifier, clock) == 1
    assert notifier.to_clients == []
    assert notifier.in_transaction == [(uow, bank.client_id), (uow, bank.client_id)]


async def _invited(
    crm: SqlCrm, clock: ManualClock, notifier: RecordingNotifier
) -> tuple[MiniBank, int]:
    """Both clients of the mini bank consented and invited to a one-seat event."""
    bank = await make_bank(crm)
    async with crm.unit_of_work() as uow:
        await _consented(uow, clock, bank.client_id, bank.other_client_id)
        event = await _event(
            uow, clock, "Турнир по гольфу", hours=5, capacity=1, coordinator_id=bank.coordinator_id
        )
        report = await send_invitations(uow, notifier, clock, event.id)
        await uow.commit()
    assert report.queued == 2
    return bank, event.id


async def test_invitation_is_marketing_with_an_occasion_key_and_rsvp_buttons(
    crm: SqlCrm, clock: ManualClock
) -> None:
    notifier = RecordingNotifier()
    bank, event_id = await _invited(crm, clock, notifier)
    client_id, message = notifier.to_clients[0]
    assert message.message_class is MessageClass.MARKETING
    assert message.occasion_key == f"invite:{event_id}:{client_id}"
    assert message.actions is not None
    labels = [action.label for action in message.actions]
    assert {action.name for action in message.actions} == {"rsvp"}
    # No "+1" button: this event takes no companions.
    assert not any("+1" in label for label in labels) and len(labels) == 3


async def test_capacity_increase_promotes_and_a_decrease_below_confirmed_is_refused(
    crm: SqlCrm, clock: ManualClock
) -> None:
    notifier = RecordingNotifier()
    bank, event_id = await _invited(crm, clock, notifier)
    async with crm.unit_of_work() as uow:
        ids = {i.client_id: i.id for i in await uow.events.invitations(event_id)}
        first = await answer_invitation(
            uow,
            notifier=notifier,
            clock=clock,
            client_id=bank.client_id,
            invitation_id=ids[bank.client_id],
            answer=Rsvp.ACCEPT,
        )
        second = await answer_invitation(
            uow,
            notifier=notifier,
            clock=clock,
            client_id=bank.other_client_id,
            invitation_id=ids[bank.other_client_id],
            answer=Rsvp.ACCEPT,
        )
        assert (first.outcome, second.outcome) == (RsvpOutcome.ACCEPTED, RsvpOutcome.WAITLISTED)
        # Each answer reached the client's own manager.
        assert {s for s, _ in notifier.to_staff_members} == {bank.manager_id, bank.backup_id}

        with pytest.raises(EventError) as refused:
            await change_capacity(
                uow, notifier=notifier, clock=clock, event_id=event_id, staff_id=None, capacity=0
            )
        assert refused.value.key == "events.err.bad_capacity"
        promoted = await change_capacity(
            uow, notifier=notifier, clock=clock, event_id=event_id, staff_id=None, capacity=2
        )
        assert [p.client_id for p in promoted] == [bank.other_client_id]
        with pytest.raises(EventError) as below:
            await change_capacity(
                uow, notifier=notifier, clock=clock, event_id=event_id, staff_id=None, capacity=1
            )
        assert below.value.details == {"taken": 2, "capacity": 1}
        await uow.commit()
    promoted_message = notifier.to_clients[-1][1]
    assert promoted_message.document is not None and promoted_message.document[0].endswith(".ics")


async def test_moving_the_event_informs_attending_guests_with_a_new_calendar_file(
    crm: SqlCrm, clock: ManualClock
) -> None:
    notifier = RecordingNotifier()
    bank, event_id = await _invited(crm, clock, notifier)
    async with crm.unit_of_work() as uow:
        invitation = await uow.events.invitation_for(event_id, bank.client_id)
        assert invitation is not None
        await answer_invitation(
            uow,
            notifier=notifier,
            clock=clock,
            client_id=bank.client_id,
            invitation_id=invitation.id,
            answer=Rsvp.ACCEPT,
        )
        clock.set(STARTS - timedelta(hours=20))
        # The day before for Ivan, and the one nudge to the other client who never answered.
        assert await send_event_reminders(uow, notifier, clock) == 2
        before = len(notifier.to_clients)
        informed = await change_event(
            uow,
            notifier=notifier,
            clock=clock,
            event_id=event_id,
            staff_id=None,
            starts_at=STARTS + timedelta(days=1),
        )
        event = await uow.events.get(event_id)
        await uow.commit()
    assert informed == 1 and len(notifier.to_clients) == before + 1
    # The day-before reminder is due again for the new date, and only then.
    async with crm.unit_of_work() as uow:
        assert await send_event_reminders(uow, notifier, clock) == 0
        clock.set(STARTS + timedelta(hours=4))
        assert await send_event_reminders(uow, notifier, clock) == 1
        await uow.commit()
    assert event is not None and event.ends_at == STARTS + timedelta(days=1, hours=5)
    document = notifier.to_clients[before][1].document
    assert (
        document is not None and b"20261206T190000" in document[1] and b"SEQUENCE:1" in document[1]
    )


async def test_reminders_are_recorded_even_when_nobody_is_due_twice(
    crm: SqlCrm, clock: ManualClock
) -> None:
    notifier = RecordingNotifier()
    await _invited(crm, clock, notifier)
    clock.advance(timedelta(days=3))
    for expected in (2, 0):
        async with crm.unit_of_work() as uow:
            assert await send_event_reminders(uow, notifier, clock) == expected
            await uow.commit()


async def test_invitation_speaks_the_client_language(crm: SqlCrm, clock: ManualClock) -> None:
    bank = await make_bank(crm)
    async with crm.unit_of_work() as uow:
        await uow.clients.update_preferences(bank.other_client_id, language="en")
        await uow.commit()
    notifier = RecordingNotifier()
    async with crm.unit_of_work() as uow:
        await _consented(uow, clock, bank.client_id, bank.other_client_id)
        event = await _event(uow, clock, "Art tour", hours=2, capacity=5, plus_ones_allowed=True)
        await send_invitations(uow, notifier, clock, event.id)
        await uow.commit()
    texts = {client_id: message.text for client_id, message in notifier.to_clients}
    assert texts[bank.other_client_id].startswith("<b>Елена Сергеевна, you are invited")
    assert "Орлова Марина" in texts[bank.other_client_id]
    assert "05.12.2026, 19:00–21:00 (Europe/Moscow)" in texts[bank.other_client_id]
    assert texts[bank.client_id].startswith("<b>Иван Петрович, приглашаем вас")


CSV_OK = (
    "title,description,timezone,starts_at,ends_at,venue,city,capacity,plus_ones,rsvp_deadline,audience\n"
    "Лекция о рынках,,Europe/Moscow,2026-12-10 19:00,2026-12-10 21:00,Пречистенка,Москва,30,да,,"
    "managers=S-0001; min=10000000\n"
    "Винный ужин,,Asia/Yekaterinburg,11.12.2026 20:00,11.12.2026 23:00,,Екатеринбург,12,no,"
    "2026-12-08 12:00,\n"
)


async def test_import_is_all_or_nothing(crm: SqlCrm, clock: ManualClock) -> None:
    bank = await make_bank(crm)
    broken = CSV_OK + "Без конца,,Europe/Moscow,2026-12-12 19:00,2026-12-12 18:00,,,10,,,\n"
    with pytest.raises(ImportFailed) as failed:
        await import_events(crm, clock=clock, text=broken)
    assert failed.value.problems == [(4, "end_before_start")]
    async with crm.unit_of_work() as uow:
        assert await uow.events.list_events() == []

    created = await import_events(
        crm, clock=clock, text="\ufeff" + CSV_OK, coordinator_code="S-0101"
    )
    assert [e.title for e in created] == ["Лекция о рынках", "Винный ужин"]
    lecture, dinner = created
    assert lecture.plus_ones_allowed and lecture.audience is not None
    assert lecture.audience["manager_ids"] == [bank.manager_id]
    assert dinner.starts_at == datetime(2026, 12, 11, 15, 0, tzinfo=UTC)
    assert dinner.coordinator_id == bank.coordinator_id


def test_cli_create_command(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def open_store() -> SqlCrm:
        return SqlCrm.from_url(sqlite_url)

    monkeypatch.setattr(events_cli, "_crm", open_store)
    app = typer.Typer()
    events_cli.register(app)
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "events",
            "create",
            "--title",
            "Экскурсия в Эрмитаж",
            "--starts",
            "2030-05-20 11:00",
            "--ends",
            "2030-05-20 14:00",
            "--capacity",
            "15",
            "--city",
            "Санкт-Петербург",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "created (draft)" in ok.output
    bad = runner.invoke(
        app,
        [
            "events",
            "create",
            "--title",
            "X",
            "--starts",
            "2030-05-20 11:00",
            "--ends",
            "2030-05-20 14:00",
            "--capacity",
            "5",
            "--audience",
            "colour=red",
        ],
    )
    assert bad.exit_code == 1

    async def titles() -> list[str]:
        crm = SqlCrm.from_url(sqlite_url)
        async with crm.unit_of_work() as uow:
            found = [e.title for e in await uow.events.list_events()]
        await crm.close()
        return found

    assert asyncio.run(titles()) == ["Экскурсия в Эрмитаж"]
