"""One person, several messengers: relays across them, the notification messenger, one history.

The manager works in Telegram (recorded in-process), the client in MAX (the real transport
over HTTP to the MAX stand-in), or the client in both; the same assistant serves them.
"""

from __future__ import annotations

from aiogram.methods import SendPhoto
from aiogram.types import BufferedInputFile, Document
from sqlalchemy import select

from bot.callbacks import SettingsCb
from concierge.notify import Outgoing
from crm_adapter import models as m
from handlers.manager_render import ClientCb
from tests.e2e.conftest import Channels
from tests.factories import MiniBank, make_bank

# The client's accounts: Telegram and MAX number their users independently.
CLIENT_TG, CLIENT_MAX, OTHER_TG = 7701, 5701, 7702
MANAGER, BACKUP, DUTY = 8701, 8702, 8703


async def _staff_in_telegram(channels: Channels) -> MiniBank:
    return await channels.telegram.linked_bank(manager=MANAGER, backup=BACKUP, duty=DUTY)


async def _relay_messengers(channels: Channels) -> list[tuple[str, str | None]]:
    async with channels.app.crm.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(m.InteractionRow.actor, m.InteractionRow.messenger)
            .where(m.InteractionRow.kind == "relay")
            .order_by(m.InteractionRow.id)
        )
        return [(actor, messenger) for actor, messenger in rows]


async def test_relay_from_a_max_client_to_a_telegram_manager_and_back(
    channels: Channels,
) -> None:
    bank = await _staff_in_telegram(channels)
    tg, mx = channels.telegram, channels.max
    client, manager = mx.user(CLIENT_MAX), tg.user(MANAGER)
    await mx.link(client, client_id=bank.client_id)
    await mx.send(client, "/menu")
    await mx.press_button(client, "Мой менеджер")
    await mx.send(client, "Нужна справка для визы")
    assert "Волков Иван Петрович" in tg.last_text(MANAGER)
    assert "Нужна справка для визы" in tg.last_text(MANAGER)
    assert mx.last_text(CLIENT_MAX) == "Сообщение передано: Соколов Андрей."

    await tg.send(manager, "Подготовлю к завтра", reply_to_message=tg.last_message(MANAGER))
    assert mx.last_text(CLIENT_MAX) == "👤 <b>Соколов Андрей</b>:\nПодготовлю к завтра"
    assert "Ответ передан клиенту" in tg.last_text(MANAGER)

    # A photo crosses by download and upload: Telegram cannot copy a MAX message.
    await mx.send_content(client, "photo")
    photos = [c.method for c in tg.session.calls if isinstance(c.method, SendPhoto)]
    assert len(photos) == 1 and photos[0].chat_id == MANAGER
    assert isinstance(photos[0].photo, BufferedInputFile)
    assert photos[0].photo.data == b"\x89PNG-photo"

    # The manager answers with a document: uploaded to MAX and sent to the client there.
    contract = Document(file_id="contract-v2", file_unique_id="c2", file_name="contract.pdf")
    await tg.feed(
        tg.update(
            message=tg._message(
                manager,
                document=contract,
                caption="Договор",
                reply_to_message=tg.last_message(MANAGER),
            )
        )
    )
    delivered = mx.api.messages_to(CLIENT_MAX)[-1]
    (attachment,) = delivered.attachments
    assert attachment["type"] == "file"
    assert mx.api.files[attachment["payload"]["token"]] == b"content of contract-v2"
    assert await _relay_messengers(channels) == [
        ("client", "max"),
        ("staff", "telegram"),
        ("client", "max"),
        ("staff", "telegram"),
    ]


async def test_a_client_linked_in_both_messengers(channels: Channels) -> None:
    bank = await _staff_in_telegram(channels)
    tg, mx = channels.telegram, channels.max
    in_telegram, in_max, manager = tg.user(CLIENT_TG), mx.user(CLIENT_MAX), tg.user(MANAGER)
    await tg.link(in_telegram, client_id=bank.client_id)
    await mx.link(in_max, client_id=bank.client_id, consent=False)  # given in Telegram
    async with channels.app.crm.unit_of_work() as uow:
        links = await uow.links.all_for_client(bank.client_id)
    assert [(link.messenger, link.user_id) for link in links] == [
        ("max", CLIENT_MAX),
        ("telegram", CLIENT_TG),
    ]

    # The bank's own messages go where the client linked last, until they choose.
    notice = Outgoing(text="Ваша карта готова", kind="card_ready")
    assert await channels.app.notifier.to_client(bank.client_id, notice)
    assert mx.last_text(CLIENT_MAX) == "Ваша карта готова"
    await tg.press_button(in_telegram, "Настройки")
    assert "Уведомления банка приходят в: MAX" in tg.last_text(CLIENT_TG)
    await tg.press_button(in_telegram, "Мессенджер для уведомлений")
    await tg.press_button(in_telegram, "Telegram")
    assert "Уведомления банка приходят в: Telegram" in tg.last_text(CLIENT_TG)
    assert await channels.app.notifier.to_client(bank.client_id, notice)
    assert tg.last_text(CLIENT_TG) == "Ваша карта готова"
    assert mx.texts(CLIENT_MAX).count("Ваша карта готова") == 1

    # A manager's answer goes where the client last wrote from.
    await mx.press_button(in_max, "Мой менеджер")
    await mx.send(in_max, "Пишу из MAX")
    from_max = tg.last_message(MANAGER)
    await tg.send(manager, "Ответ в MAX", reply_to_message=from_max)
    assert mx.last_text(CLIENT_MAX).endswith("Ответ в MAX")
    await tg.press_button(in_telegram, "Мой менеджер")
    await tg.send(in_telegram, "А теперь из Telegram")
    await tg.send(manager, "Ответ в Telegram", reply_to_message=tg.last_message(MANAGER))
    assert tg.last_text(CLIENT_TG).endswith("Ответ в Telegram")
    # Even an answer to the earlier message follows the client to Telegram.
    await tg.send(manager, "И ещё одно", reply_to_message=from_max)
    assert tg.last_text(CLIENT_TG).endswith("И ещё одно")
    assert not mx.last_text(CLIENT_MAX).endswith("И ещё одно")

    # The manager reads one conversation, each message marked with its messenger.
    await tg.send(manager, "/history Волков")
    history = tg.last_text(MANAGER)
    assert "MAX · клиент: Пишу из MAX" in history
    assert "Telegram · клиент: А теперь из Telegram" in history
    assert "MAX · банк: 👤 Соколов Андрей:\nОтвет в MAX" in history
    assert history.index("Пишу из MAX") < history.index("А теперь из Telegram")
    # The client card's latest contacts name each messenger, not just "messenger".
    await tg.press(manager, ClientCb(action="card", client_id=bank.client_id).pack())
    card = tg.last_text(MANAGER)
    assert "Telegram 22.11.2026" in card and "MAX 22.11.2026" in card
    async with channels.app.crm.unit_of_work() as uow:
        inbound = set(
            await uow.session.scalars(
                select(m.InteractionRow.messenger).where(
                    m.InteractionRow.client_id == bank.client_id,
                    m.InteractionRow.direction == "in",
                )
            )
        )
        audited = await uow.session.scalar(
            select(m.AuditEntryRow.subject_client_id).where(
                m.AuditEntryRow.action == "view_history"
            )
        )
    assert inbound == {"telegram", "max"} and audited == bank.client_id


async def test_the_history_shows_the_files_a_client_sent_in_their_place(
    channels: Channels,
) -> None:
    """Regression: a photo or document the client sent left no line of its own in /history,
    only the bot's answer that it was passed on."""
    bank = await _staff_in_telegram(channels)
    tg, mx = channels.telegram, channels.max
    in_telegram, in_max, manager = tg.user(CLIENT_TG), mx.user(CLIENT_MAX), tg.user(MANAGER)
    await tg.link(in_telegram, client_id=bank.client_id)
    await mx.link(in_max, client_id=bank.client_id, consent=False)  # given in Telegram
    await mx.press_button(in_max, "Мой менеджер")
    await mx.send(in_max, "Пришлю фото паспорта")
    await mx.send_content(in_max, "photo")
    await tg.press_button(in_telegram, "Мой менеджер")
    scan = Document(file_id="scan-file-id-42", file_unique_id="s42", file_name="scan.pdf")
    await tg.feed(tg.update(message=tg._message(in_telegram, document=scan, caption="Выписка")))
    await tg.send(in_telegram, "Это всё")

    await tg.send(manager, "/history Волков")
    history = tg.last_text(MANAGER)
    assert "MAX · клиент: 📎 фото" in history
    assert "Telegram · клиент: 📎 документ: Выписка" in history
    order = [history.index(s) for s in ("Пришлю фото", "📎 фото", "📎 документ", "Это всё")]
    assert order == sorted(order), history
    assert "scan-file-id-42" not in history and "s42" not in history


async def test_stopping_the_bot_in_max_leaves_telegram_working(channels: Channels) -> None:
    bank = await _staff_in_telegram(channels)
    tg, mx = channels.telegram, channels.max
    in_telegram, in_max = tg.user(CLIENT_TG), mx.user(CLIENT_MAX)
    await tg.link(in_telegram, client_id=bank.client_id)
    await mx.link(in_max, client_id=bank.client_id, consent=False)  # given in Telegram
    await mx.feed(mx.api.event_stopped(mx.api.person(CLIENT_MAX)))
    notice = Outgoing(text="Напоминание о встрече", kind="reminder")
    assert await channels.app.notifier.to_client(bank.client_id, notice)
    assert tg.last_text(CLIENT_TG) == "Напоминание о встрече"
    assert "Напоминание о встрече" not in mx.texts(CLIENT_MAX)

    # Pressing Start in MAX again makes the account reachable once more.
    await mx.start(in_max)
    assert await channels.app.notifier.to_client(bank.client_id, notice)
    assert mx.last_text(CLIENT_MAX) == "Напоминание о встрече"
    async with channels.app.crm.unit_of_work() as uow:
        kinds = list(
            await uow.session.scalars(
                select(m.InteractionRow.kind).where(
                    m.InteractionRow.kind.in_(("channel_blocked", "channel_unblocked"))
                )
            )
        )
    assert kinds == ["channel_blocked", "channel_unblocked"]


async def test_a_messenger_the_client_has_not_linked_is_refused(channels: Channels) -> None:
    bank = await _staff_in_telegram(channels)
    tg = channels.telegram
    client = tg.user(CLIENT_TG)
    await tg.link(client, client_id=bank.client_id)
    await tg.press_button(client, "Настройки")
    assert "Мессенджер для уведомлений" not in tg.last_buttons(CLIENT_TG)
    await tg.press(client, SettingsCb(action="messenger", value="max").pack())
    assert tg.alerts()[-1] == "Этот мессенджер не подключён к вашему профилю."
    async with channels.app.crm.unit_of_work() as uow:
        outcome = await uow.session.scalar(
            select(m.AuditEntryRow.outcome).where(m.AuditEntryRow.action == "preferences_changed")
        )
    assert outcome == "denied"


async def test_the_same_code_links_only_one_account(channels: Channels) -> None:
    """A one-time code opened in Telegram cannot link a MAX account too (and vice versa)."""
    bank = await make_bank(channels.app.crm)
    code = await channels.telegram.link_code(client_id=bank.client_id)
    await channels.telegram.start(channels.telegram.user(CLIENT_TG), code)
    await channels.max.start(channels.max.user(CLIENT_MAX), code)
    assert "уже использован" in channels.max.last_text(CLIENT_MAX)
    async with channels.app.crm.unit_of_work() as uow:
        links = await uow.links.all_for_client(bank.client_id)
    assert [link.messenger for link in links] == ["telegram"]
