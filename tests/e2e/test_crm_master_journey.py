"""CRM_BACKEND=bitrix24: the console journeys run unchanged on a store synced from the bank's
Bitrix24 (the stand-in), even while it is down, and every interaction of the session lands
once in the client's timeline there when it is back, readable in the bank's language (BB-code,
presses by their button's label, files and unkept texts named, no protocol calls that show
nothing); admins see the write queue with /crm_queue."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bench.bitrix24_portal import MARKER_PREFIX
from bench.bitrix24_standin import Bitrix24StandIn, demo_portal
from common.clock import ManualClock
from common.settings import CrmSettings, Settings
from crm_adapter import models as m
from crm_adapter.master.sync import sync_from_master
from crm_adapter.sql import SqlCrm
from scheduler.crm_writer import CrmWriter
from tests.e2e.conftest import CONSOLE_CLIENT_JOURNEY, console_transcript
from tests.integration.crm_master.conftest import HOLDINGS, LIFE_EVENTS, bitrix24

# A timeline comment's first line, in Russian words but for the messenger's name.
HEADER = re.compile(
    r"\[b\](Клиент → банк|Банк → клиенту|Служебная запись)\[/b\]"
    r" · [а-яё ]+(Telegram|MAX)? · \d{4}-\d\d-\d\d \d\d:\d\d UTC"
)
# Calls that show a person nothing when they carry no text.
SILENT = {"answerCallbackQuery", "editMessageReplyMarkup"}
SCRIPT = f"""\
{CONSOLE_CLIENT_JOURNEY}:as client C-0004
Hello, is anyone there?
:send voice
:press I consent
:send photo
/menu
:as staff S-0001
/help
:as staff S-0006
/crm_queue
:quit
"""


async def test_console_journeys_with_bitrix24_as_master_land_once_in_its_timeline(
    settings: Settings, sqlite_url: str, clock: ManualClock
) -> None:
    portal = await demo_portal(HOLDINGS, LIFE_EVENTS)
    portal.restamp(clock.now() - timedelta(hours=1))
    portal.now = clock.now
    async with Bitrix24StandIn(portal, rate=1000, burst=1000) as api:
        crm_settings = CrmSettings(backend="bitrix24", bitrix24_webhook_url=api.webhook_url)
        settings = settings.model_copy(update={"crm": crm_settings})
        store = SqlCrm.from_url(sqlite_url, write_back=settings.crm.writes_back)
        master = bitrix24(api.webhook_url)
        try:
            await sync_from_master(store, master, clock, full=True)  # into an empty store
            await api.outage()  # the bank's CRM goes down: the bot serves from the store
            text = await console_transcript(settings, store, clock, SCRIPT)
            assert "Thank you, your consent is recorded." in text  # C-0004 pressed it
            writer = CrmWriter(store, master, clock)
            await writer.drain()
            assert writer.tally.unavailable == 1 and writer.tally.delivered == 0
            await api.restore()
            clock.advance(timedelta(minutes=10))
            await writer.drain()
            async with store.unit_of_work() as uow:
                rows = (
                    await uow.session.scalars(
                        select(m.InteractionRow).where(m.InteractionRow.client_id.is_not(None))
                    )
                ).all()
                owner = {r.id: int(r.client_id or 0) for r in rows}
                # Kept in the local log, never sent: the empty answers to presses and the
                # keyboards changed or removed (the press itself is sent).
                silent = {
                    r.id
                    for r in rows
                    if r.direction == "out"
                    and r.text is None
                    and (r.payload or {}).get("method") in SILENT
                }
                presses = {r.id for r in rows if r.kind == "callback"}
                status = await uow.crm_writes.status()
                clients = {
                    r.id: r.external_id for r in await uow.session.scalars(select(m.ClientRow))
                }
        finally:
            await master.close()
            await store.close()

    # The journeys, as on the local store: linking, consent, the manager, language, help.
    assert "Ваш аккаунт подключён" in text
    assert "Ваш персональный менеджер — *Соколов Андрей Викторович*" in text
    assert "Language switched to English." in text and "What I can do" in text
    assert "Рабочий доступ подключён" in text
    assert "Запись в CRM банка" in text and "bitrix24" in text  # the admin's queue view

    # Every interaction of a client in this session that shows something, once, in that
    # client's timeline: not the protocol calls around button presses.
    assert len(owner) > 10 and len(silent) >= 4 and len(presses) >= 3
    assert sorted(portal.written) == sorted(f"interaction:{i}" for i in set(owner) - silent)
    assert portal.duplicates() == {}
    assert (status.pending, status.sending, status.dead) == (0, 0, 0)
    pressed: list[str] = []
    bodies: list[str] = []
    for comment in portal.comments.values():
        lines = comment["COMMENT"].rstrip().split("\n")
        interaction_id = int(lines[-1][len(MARKER_PREFIX) : -1].removeprefix("interaction:"))
        contact = portal.contacts[int(comment["ENTITY_ID"])]
        assert contact["UF_CRM_VIP_CLIENT_ID"] == clients[owner[interaction_id]]
        # The header in the bank's language (Russian here): who to whom, what, where, when;
        # no codes of the log (callback, message, in/out).
        assert HEADER.fullmatch(lines[0]), lines[0]
        # Readable in Bitrix24: BB-code, no Telegram HTML, no empty placeholder.
        body = "\n".join(lines[1:-1])
        assert "(без текста)" not in body and "(no text)" not in body
        assert not re.search(r"</?[a-zA-Z][\w-]*(\s[^>]*)?>|&#?\w+;", body), body
        bodies.append(body)
        if interaction_id in presses:
            pressed.append(body)
    # What came without words is named: C-0004's voice message and photo, and her greeting
    # before she consented (the log keeps that it came, not what it said).
    assert "Голосовое сообщение" in bodies and "Фото" in bodies
    assert "Сообщение (текст не сохраняется: нет согласия на обработку данных)" in bodies
    assert "Hello, is anyone there?" not in "\n".join(bodies)
    assert "[B]Главное меню[/B]" in "\n".join(c["COMMENT"] for c in portal.comments.values())
    # A press reads as the button the client saw (the one before consent keeps no text).
    assert pressed == [
        "Нажата кнопка",
        "Нажата кнопка «👤 Мой менеджер»",
        "Нажата кнопка «✖️ Завершить»",
        "Нажата кнопка «English»",
        "Нажата кнопка",  # C-0004's consent, in English: a press before consent keeps no text
    ]
