"""The workload: synthetic conversations of linked clients as Telegram updates, and the bank
(managers, linked and consenting clients) they run against."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiogram.types import CallbackQuery, Chat, Message, Update, User

from bot.callbacks import LanguageCb, MenuCb, RelayCb, ServiceCb, WizardCb
from crm_adapter import models as m
from crm_adapter.sql import SqlCrm

FIRST_USER_ID = 900_000
# Conversations in progress at once: enough that per-user caches cannot serve every update.
OPEN_CONVERSATIONS = 24
WARM_UP_CLIENTS = 10
WARM_UP_UPDATES = 60

# (conversation, weight): roughly what a day of VIP traffic looks like. Each conversation is
# a sequence of updates from one client, replayed in order, interleaved with other clients'.
CONVERSATIONS: list[tuple[str, int]] = [
    ("menu", 15),
    ("help", 8),
    ("language", 5),
    ("ask", 15),  # the "Ask a question" button, then the question
    ("question", 15),  # a question typed straight away
    ("manager", 20),  # "My manager", a message relayed to the manager, end of the chat
    ("service", 10),  # a card block request through the wizard, confirmed
]
RELAYED_TEXTS = [
    "Добрый день! Подскажите, пожалуйста, по вкладу",
    "Когда будет перевод?",
    "Спасибо",
    "Можно перенести встречу на четверг?",
]


def _steps(
    conversation: str, rng: random.Random, questions: Sequence[str]
) -> list[tuple[str, str]]:
    """(kind, text or callback data) of each update of one conversation."""
    if conversation == "menu":
        return [("/menu", "/menu")]
    if conversation == "help":
        return [("/help", "/help")]
    if conversation == "language":
        return [("language", LanguageCb(code=rng.choice(["en", "ru"])).pack())]
    if conversation == "ask":
        return [("menu:ask", MenuCb(section="ask").pack()), ("question", rng.choice(questions))]
    if conversation == "question":
        return [("question", rng.choice(questions))]
    if conversation == "manager":
        return [
            ("menu:manager", MenuCb(section="manager").pack()),
            ("relay", rng.choice(RELAYED_TEXTS)),
            ("relay:stop", RelayCb(action="stop").pack()),
        ]
    return [
        ("menu:services", MenuCb(section="services").pack()),
        ("service:choose", ServiceCb(code="card_block").pack()),
        ("service:option", WizardCb(action="opt", value=rng.randrange(3)).pack()),
        ("service:text", f"Visa *{rng.randrange(1000, 9999)}"),
        ("service:confirm", WizardCb(action="confirm").pack()),
    ]


def _update(update_id: int, user_id: int, kind: str, content: str, now: datetime) -> Update:
    user = User(id=user_id, is_bot=False, first_name="Клиент", language_code="ru")
    message = Message(
        message_id=update_id,
        date=now,
        chat=Chat(id=user_id, type="private"),
        from_user=user,
        text=content if not _is_button(kind) else "…",
    )
    if _is_button(kind):
        query = CallbackQuery(
            id=str(update_id), from_user=user, chat_instance="ci", data=content, message=message
        )
        return Update(update_id=update_id, callback_query=query)
    return Update(update_id=update_id, message=message)


BUTTON_KINDS = frozenset(
    {
        "language",
        "menu:ask",
        "menu:manager",
        "menu:services",
        "service:choose",
        "service:option",
        "service:confirm",
        "relay:stop",
    }
)


def _is_button(kind: str) -> bool:
    return kind in BUTTON_KINDS


def make_updates(
    count: int,
    clients: int,
    questions: Sequence[str],
    *,
    seed: int = 8,
    first_user: int = FIRST_USER_ID,
    first_update: int = 10_000_000,
) -> list[tuple[str, Update]]:
    """A reproducible interleaving of conversations; update ids are unique like Telegram's.

    A client has one conversation at a time, so a wizard's steps arrive in order, as they
    would from a person; conversations of different clients interleave at random.
    """
    rng = random.Random(seed)
    names = [c for c, _ in CONVERSATIONS]
    weights = [w for _, w in CONVERSATIONS]
    now = datetime.now(UTC)
    idle = list(range(clients))
    rng.shuffle(idle)
    open_: list[tuple[int, list[tuple[str, str]]]] = []
    out: list[tuple[str, Update]] = []
    while len(out) < count:
        while len(open_) < OPEN_CONVERSATIONS and idle:
            client = idle.pop(0)
            open_.append((client, _steps(rng.choices(names, weights)[0], rng, questions)))
        index = rng.randrange(len(open_))
        client, steps = open_[index]
        kind, content = steps.pop(0)
        update_id = first_update + len(out)
        out.append((kind, _update(update_id, first_user + client, kind, content, now)))
        if not steps:
            open_.pop(index)
            idle.append(client)
    return out


async def seed_bank(crm: SqlCrm, clients: int, *, messenger: str = "telegram") -> None:
    """Managers and linked, consenting clients, written straight to the tables."""
    now = datetime.now(UTC)
    async with crm.unit_of_work() as uow:
        s = uow.session
        managers = [
            m.StaffRow(external_id=f"S-B{i:03}", full_name=f"Менеджер {i}", roles="manager")
            for i in range(10)
        ]
        s.add_all(managers)
        await s.flush()
        rows = [
            m.ClientRow(
                external_id=f"C-B{i:04}",
                first_name="Клиент",
                last_name=f"Номер {i}",
                manager_id=managers[i % len(managers)].id,
            )
            for i in range(clients)
        ]
        s.add_all(rows)
        await s.flush()
        for i, row in enumerate(rows):
            s.add(
                m.MessengerLinkRow(
                    messenger=messenger,
                    user_id=FIRST_USER_ID + i,
                    chat_id=FIRST_USER_ID + i,
                    client_id=row.id,
                    linked_at=now,
                )
            )
            s.add(
                m.ConsentRow(
                    client_id=row.id,
                    document_version="2025-09-01",
                    granted=True,
                    channel="messenger",
                    recorded_at=now,
                )
            )
        await uow.commit()


@dataclass(frozen=True)
class Workload:
    """The same updates for every run; warm-up comes from clients the measurement never uses."""

    updates: list[tuple[str, Update]]
    warm_up: list[tuple[str, Update]]
    clients: int

    @classmethod
    def make(cls, count: int, clients: int, questions: Sequence[str]) -> Workload:
        return cls(
            updates=make_updates(count, clients, questions),
            warm_up=make_updates(
                WARM_UP_UPDATES,
                WARM_UP_CLIENTS,
                questions,
                seed=9,
                first_user=FIRST_USER_ID + clients,
                first_update=1,
            ),
            clients=clients,
        )
