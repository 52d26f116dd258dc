"""The client's settings screen: language, quiet hours, do-not-disturb, marketing, channel,
consent withdrawal and personal-data requests."""

from __future__ import annotations

from datetime import time

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from bot.callbacks import MenuCb, SettingsCb
from bot.channels import MESSENGER_NAMES
from bot.filters import IsClient
from bot.keyboards import Keyboard
from common.clock import Clock
from common.i18n import LANGUAGES, Catalog, Translator, local_time
from concierge.consent import withdraw_consent
from concierge.notify import Notifier
from concierge.preferences import (
    CHANNELS,
    DATA_TASKS,
    QUIET_PRESETS,
    change_preferences,
    prefer_messenger,
    request_data_task,
    set_quiet_hours,
)
from crm_adapter.dto import Client, MessengerLink
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import reply

router = Router(name="client_settings")
_MAIN = (
    "language",
    "quiet",
    "dnd",
    "marketing",
    "channel",
    "messenger",
    "export",
    "deletion",
    "withdraw",
)


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


async def _show(query: CallbackQuery, t: Translator, uow: SqlUnitOfWork, client: Client) -> None:
    """The settings screen; a client linked in several messengers also chooses where the
    bank's own messages go."""
    several = len(await uow.links.all_for_client(client.id)) > 1
    # Where the bank's own messages go now (a working account first, then the chosen one).
    notified = await uow.links.for_client(client.id) if several else None
    text, markup = _screen(t, client, notified)
    await reply(query, text, reply_markup=markup)


def _screen(
    t: Translator, client: Client, notified: MessengerLink | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    """`notified`: for a client linked in several messengers, the one notifications use."""
    quiet = (
        t("settings.quiet_off")
        if client.quiet_start == client.quiet_end
        else f"{_hhmm(client.quiet_start)}–{_hhmm(client.quiet_end)}"
    )
    text = t(
        "settings.title",
        language="Русский" if t.language == "ru" else "English",
        quiet=quiet,
        dnd=t("settings.switch_on" if client.do_not_disturb else "settings.switch_off"),
        marketing=t(
            "settings.marketing_off" if client.marketing_opt_out else "settings.marketing_on"
        ),
        channel=t(f"settings.channel.{client.preferred_channel}"),
    )
    if notified is not None:
        text += "\n" + t("settings.messenger", messenger=MESSENGER_NAMES[notified.messenger])
    kb = Keyboard()
    for action in _MAIN:
        if action == "messenger" and notified is None:
            continue
        kb.button(text=t(f"settings.btn.{action}"), callback_data=SettingsCb(action=action))
    kb.adjust(2)
    return text, kb.as_markup()


def _choices(t: Translator, action: str, values: dict[str, str]) -> InlineKeyboardMarkup:
    kb = Keyboard()
    for value, label in values.items():
        kb.button(text=label, callback_data=SettingsCb(action=action, value=value))
    kb.adjust(2)
    return kb.as_markup()


@router.callback_query(MenuCb.filter(F.section == "settings"), IsClient(consent=True))
async def settings_screen(
    query: CallbackQuery, client: Client, uow: SqlUnitOfWork, t: Translator
) -> None:
    await query.answer()
    await _show(query, t, uow, client)


@router.callback_query(
    SettingsCb.filter(F.action.in_(set(_MAIN)) & (F.value == "")), IsClient(consent=True)
)
async def settings_choice(
    query: CallbackQuery,
    callback_data: SettingsCb,
    client: Client,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    """First tap on a setting: a toggle applies at once, the others offer their choices."""
    await query.answer()
    action = callback_data.action
    if action in ("dnd", "marketing"):
        field = "do_not_disturb" if action == "dnd" else "marketing_opt_out"
        updated = await change_preferences(
            uow, clock, client=client, **{field: not getattr(client, field)}
        )
        await _show(query, t, uow, updated)
        return
    choices: dict[str, tuple[str, dict[str, str]]] = {
        "language": ("menu.language_choose", {"ru": "Русский", "en": "English"}),
        "quiet": (
            "settings.quiet_choose",
            {
                p: (t("settings.quiet_off") if p == "off" else p.replace("-", ":00–") + ":00")
                for p in QUIET_PRESETS
            },
        ),
        "channel": ("settings.channel_choose", {c: t(f"settings.channel.{c}") for c in CHANNELS}),
        "messenger": (
            "settings.messenger_choose",
            {
                link.messenger: MESSENGER_NAMES[link.messenger]
                for link in await uow.links.all_for_client(client.id)
            },
        ),
        "withdraw": ("settings.withdraw_confirm", {"yes": t("settings.btn.confirm")}),
        "export": ("settings.data_confirm_export", {"yes": t("settings.btn.confirm")}),
        "deletion": ("settings.data_confirm_deletion", {"yes": t("settings.btn.confirm")}),
    }
    if action in choices:
        key, values = choices[action]
        await reply(query, t(key), reply_markup=_choices(t, action, values))


@router.callback_query(
    SettingsCb.filter((F.action == "language") & F.value.in_(LANGUAGES)), IsClient(consent=True)
)
async def set_language(
    query: CallbackQuery,
    callback_data: SettingsCb,
    client: Client,
    uow: SqlUnitOfWork,
    clock: Clock,
    catalog: Catalog,
) -> None:
    updated = await change_preferences(uow, clock, client=client, language=callback_data.value)
    t = catalog.translator(callback_data.value)
    await query.answer(t("settings.saved"))
    await _show(query, t, uow, updated)


@router.callback_query(
    SettingsCb.filter(
        ((F.action == "quiet") & F.value.in_(set(QUIET_PRESETS)))
        | ((F.action == "channel") & F.value.in_(set(CHANNELS)))
    ),
    IsClient(consent=True),
)
async def set_choice(
    query: CallbackQuery,
    callback_data: SettingsCb,
    client: Client,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    if callback_data.action == "quiet":
        updated = await set_quiet_hours(uow, clock, client=client, preset=callback_data.value)
    else:
        updated = await change_preferences(
            uow, clock, client=client, preferred_channel=callback_data.value
        )
    await query.answer(t("settings.saved"))
    await _show(query, t, uow, updated)


@router.callback_query(
    SettingsCb.filter((F.action == "messenger") & F.value.in_(set(MESSENGER_NAMES))),
    IsClient(consent=True),
)
async def set_messenger(
    query: CallbackQuery,
    callback_data: SettingsCb,
    client: Client,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    if not await prefer_messenger(uow, clock, client=client, messenger=callback_data.value):
        # A button for a messenger the client has no account in: forged or stale.
        await query.answer(t("settings.messenger_not_linked"), show_alert=True)
        return
    await query.answer(t("settings.saved"))
    await _show(query, t, uow, client)


@router.callback_query(
    SettingsCb.filter((F.action == "withdraw") & (F.value == "yes")), IsClient(consent=True)
)
async def withdraw(
    query: CallbackQuery, client: Client, uow: SqlUnitOfWork, clock: Clock, t: Translator
) -> None:
    await withdraw_consent(uow, clock=clock, client_id=client.id)
    await query.answer()
    await reply(query, t("settings.withdrawn"))


@router.callback_query(
    SettingsCb.filter(F.action.in_(set(DATA_TASKS)) & (F.value == "yes")), IsClient(consent=True)
)
async def data_task(
    query: CallbackQuery,
    callback_data: SettingsCb,
    client: Client,
    uow: SqlUnitOfWork,
    notifier: Notifier,
    clock: Clock,
    t: Translator,
) -> None:
    request = await request_data_task(
        uow, notifier, clock, client=client, task=callback_data.action
    )
    await query.answer()
    await reply(
        query,
        t(
            "settings.data_requested",
            id=request.id,
            due=local_time(request.resolve_due_at, client.timezone),
        ),
    )
