"""Many clients at once on the embedded SQLite store, as polling and webhooks deliver them.

aiogram handles updates concurrently. SQLite has one write lock per file; the store must queue
its writers without stalls, errors or lost log lines, also when a handler reads through the
notifier while its own transaction holds the write turn (an interest signal writes a note,
then looks up the manager's chat): with SQLite's writers asleep in its busy handler holding
every pooled connection, that lookup once waited for the pool until both timed out.
"""

from __future__ import annotations

import asyncio
import re
import time

from aiogram.types import CallbackQuery
from sqlalchemy import func, select

from bot.callbacks import MenuCb
from crm_adapter import models as m
from tests.factories import make_bank
from tests.harness import BotHarness

CLIENTS = 40  # far more than the connection pool holds (5 + 10 overflow)
FIRST_USER = 7600
MANAGER_USER = 8600
ROUNDS = 3


async def test_forty_clients_ask_and_write_to_their_manager_at_the_same_moment(
    asking: BotHarness,
) -> None:
    harness = asking
    bank = await make_bank(harness.app.crm)
    async with harness.app.crm.unit_of_work() as uow:
        rows = [
            m.ClientRow(
                external_id=f"C-9{i:03d}",
                first_name=f"Клиент{i}",
                last_name="Тестов",
                manager_id=bank.manager_id,
            )
            for i in range(CLIENTS)
        ]
        uow.session.add_all(rows)
        await uow.commit()
    await harness.link(harness.user(MANAGER_USER), staff_id=bank.manager_id)
    users = [harness.user(FIRST_USER + i) for i in range(CLIENTS)]
    for user, row in zip(users, rows, strict=True):
        await harness.link(user, client_id=row.id)

    async def conversation(i: int) -> None:
        # Each client's steps in order, the clients' steps interleaved with each other.
        user = users[i]
        for round_ in range(ROUNDS):
            # An interest signal: a note written, then the manager alerted in the same update.
            await harness.send(user, "хочу вложиться в альтернативные инвестиции, что есть?")
            await harness.send(user, "/menu")
            await harness.press_button(user, "Мой менеджер")
            await harness.send(user, f"Вопрос номер {i}.{round_}")
            await harness.press_button(user, "Завершить")

    started = time.perf_counter()
    await asyncio.gather(*(conversation(i) for i in range(CLIENTS)))
    elapsed = time.perf_counter() - started

    # Every question reached the manager exactly once, and every client was told so.
    relayed = re.findall(r"Вопрос номер (\d+\.\d+)", "\n".join(harness.texts(MANAGER_USER)))
    assert sorted(relayed) == sorted(f"{i}.{r}" for i in range(CLIENTS) for r in range(ROUNDS))
    for i in range(CLIENTS):
        told = [
            t for t in harness.texts(FIRST_USER + i) if t == "Сообщение передано: Соколов Андрей."
        ]
        assert len(told) == ROUNDS
    # Waiting inside SQLite's busy handler or for a drained pool took tens of seconds.
    assert elapsed < 20, elapsed

    async with harness.app.crm.unit_of_work() as uow:
        inbound = await uow.session.scalar(
            select(func.count())
            .select_from(m.InteractionRow)
            .where(
                m.InteractionRow.direction == "in",
                m.InteractionRow.chat_id.between(FIRST_USER, FIRST_USER + CLIENTS),
                m.InteractionRow.text.like("Вопрос номер %"),
            )
        )
        relays = await uow.session.scalar(
            select(func.count())
            .select_from(m.InteractionRow)
            .where(m.InteractionRow.kind == "relay", m.InteractionRow.actor == "client")
        )
        interest_notes = await uow.session.scalar(
            select(func.count()).select_from(m.NoteRow).where(m.NoteRow.kind == "interest")
        )
    assert inbound == relays == CLIENTS * ROUNDS
    assert interest_notes == CLIENTS * ROUNDS
    alerts = [t for t in harness.texts(MANAGER_USER) if "интересуется" in t]
    assert len(alerts) == CLIENTS * ROUNDS


async def test_one_clients_updates_of_one_batch_are_handled_one_after_another(
    harness: BotHarness,
) -> None:
    """Polling hands a batch of updates to concurrent tasks. A client who taps "My manager"
    and types at once must reach the manager: the text may only be read once the tap has
    switched the conversation to the relay, as it would be had they arrived apart."""
    await harness.linked_bank(client=FIRST_USER, manager=MANAGER_USER)
    client = harness.user(FIRST_USER)
    for attempt in range(3):
        tap = harness.update(
            callback_query=CallbackQuery(
                id=f"tap-{attempt}",
                from_user=client,
                chat_instance="ci",
                data=MenuCb(section="manager").pack(),
                message=harness._message(client, text="…"),
            )
        )
        text = harness.update(message=harness._message(client, text=f"Срочно {attempt}"))
        await asyncio.gather(harness.feed(tap), harness.feed(text))
        assert f"Срочно {attempt}" in "\n".join(harness.texts(MANAGER_USER)), attempt
        await harness.press_button(client, "Завершить")
