"""The service catalogue menu and one guided wizard for every service, the red button included.

The wizard is driven by the catalogue: state data holds the service code, the step index and
the answers so far; each step is validated by `concierge.catalogue.parse_answer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.callbacks import MenuCb, ServiceCb, WizardCb
from bot.filters import IsClient
from bot.keyboards import Keyboard
from common.clock import Clock
from common.i18n import Translator, local_time
from concierge.catalogue import (
    SOS_CODE,
    Answer,
    InvalidAnswer,
    Service,
    ServiceCatalogue,
    parse_answer,
)
from concierge.identity import Identity
from concierge.notify import Notifier
from concierge.requests import create_request, summarise
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import reply

router = Router(name="services")


class ServiceWizard(StatesGroup):
    step = State()


def _service(catalogue: ServiceCatalogue, code: str) -> Service | None:
    return catalogue.sos() if code == SOS_CODE else catalogue.get(code)


def _step_keyboard(t: Translator, service: Service, index: int) -> InlineKeyboardMarkup:
    kb = Keyboard()
    if index < len(service.steps):
        for i, option in enumerate(service.steps[index].options):
            kb.button(text=option.title(t.language), callback_data=WizardCb(action="opt", value=i))
    else:
        kb.button(text=t("services.btn.confirm"), callback_data=WizardCb(action="confirm"))
    if index > 0:
        kb.button(text=t("services.btn.back"), callback_data=WizardCb(action="back"))
    kb.button(text=t("services.btn.cancel"), callback_data=WizardCb(action="cancel"))
    kb.adjust(2)
    return kb.as_markup()


def _answers(data: dict[str, Any]) -> dict[str, Answer]:
    return {k: Answer.model_validate(v) for k, v in data.get("answers", {}).items()}


async def _show(
    bot: Bot, chat_id: int, t: Translator, service: Service, state: FSMContext
) -> None:
    """Shows the current step, or the confirmation screen once every step is answered."""
    index = int((await state.get_data())["index"])
    if index < len(service.steps):
        text = t(
            "services.step",
            service=service.title(t.language),
            number=index + 1,
            total=len(service.steps),
            prompt=service.steps[index].prompt(t.language),
        )
    else:
        summary = summarise(service, _answers(await state.get_data()), t.language)
        text = t("services.confirm", service=service.title(t.language), summary=summary)
    await bot.send_message(chat_id, text, reply_markup=_step_keyboard(t, service, index))


async def _start(query: CallbackQuery, state: FSMContext, t: Translator, service: Service) -> None:
    assert query.bot is not None
    await query.answer()
    await state.set_state(ServiceWizard.step)
    await state.set_data({"code": service.code, "index": 0, "answers": {}})
    await _show(query.bot, query.from_user.id, t, service, state)


@router.callback_query(MenuCb.filter(F.section == "services"), IsClient(consent=True))
async def services_menu(
    query: CallbackQuery, t: Translator, service_catalogue: ServiceCatalogue
) -> None:
    kb = Keyboard()
    for service in service_catalogue.menu():
        kb.button(text=service.title(t.language), callback_data=ServiceCb(code=service.code))
    kb.adjust(1)
    await query.answer()
    await reply(query, t("services.choose"), reply_markup=kb.as_markup())


@router.callback_query(ServiceCb.filter(), IsClient(consent=True))
async def service_chosen(
    query: CallbackQuery,
    callback_data: ServiceCb,
    state: FSMContext,
    t: Translator,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    service_catalogue: ServiceCatalogue,
) -> None:
    service = service_catalogue.get(callback_data.code)
    if service is None or service.internal:
        # Removed from the catalogue since the menu was sent, or an internal task forged.
        await uow.audit.record(
            now=clock.now(),
            action="service_rejected",
            outcome="denied",
            actor_client_id=identity.client_id,
            details={"code": callback_data.code[:48]},
        )
        await query.answer(t("services.unknown_service"), show_alert=True)
        return
    await _start(query, state, t, service)


@router.callback_query(MenuCb.filter(F.section == "sos"), IsClient(consent=True))
async def red_button(
    query: CallbackQuery, state: FSMContext, t: Translator, service_catalogue: ServiceCatalogue
) -> None:
    await _start(query, state, t, service_catalogue.sos())


@dataclass
class _Wizard:
    """Everything a wizard step needs, gathered once per update."""

    bot: Bot
    chat_id: int
    state: FSMContext
    t: Translator
    identity: Identity
    uow: SqlUnitOfWork
    notifier: Notifier
    clock: Clock
    catalogue: ServiceCatalogue

    @classmethod
    def of(cls, bot: Bot | None, chat_id: int, data: dict[str, Any]) -> _Wizard:
        assert bot is not None
        return cls(
            bot,
            chat_id,
            data["state"],
            data["t"],
            data["identity"],
            data["uow"],
            data["notifier"],
            data["clock"],
            data["service_catalogue"],
        )

    async def service(self) -> Service | None:
        return _service(self.catalogue, str((await self.state.get_data()).get("code", "")))

    async def advance(self, service: Service, answer: Answer) -> None:
        data = await self.state.get_data()
        field = service.steps[int(data["index"])].field
        data["answers"] = {**data["answers"], field: answer.model_dump()}
        data["index"] = int(data["index"]) + 1
        await self.state.set_data(data)
        if service.code == SOS_CODE and data["index"] == len(service.steps):
            # Emergencies skip the confirmation screen: every second counts.
            await self.submit(service)
            return
        await _show(self.bot, self.chat_id, self.t, service, self.state)

    async def back(self, service: Service) -> None:
        data = await self.state.get_data()
        data["index"] = max(0, int(data["index"]) - 1)
        await self.state.set_data(data)
        await _show(self.bot, self.chat_id, self.t, service, self.state)

    async def submit(self, service: Service) -> None:
        client, t = self.identity.client, self.t
        assert client is not None
        answers = _answers(await self.state.get_data())
        await self.state.clear()
        sos = service.code == SOS_CODE
        receipt = await create_request(
            self.uow,
            self.notifier,
            self.clock,
            client=client,
            service_code=answers["what"].value if sos else service.code,
            summary=summarise(service, answers, t.language),
            answers=answers,
            red_button=sos,
            catalogue=self.catalogue,
        )
        request = receipt.request
        if sos:
            key = "services.sos.created"
        else:
            key = "requests.created" if receipt.handler else "requests.created_no_staff"
        text = t(
            key,
            id=request.id,
            service=service.title(t.language),
            staff=receipt.handler.full_name if receipt.handler else "—",
            ack_due=local_time(request.ack_due_at, client.timezone),
            resolve_due=local_time(request.resolve_due_at, client.timezone),
            minutes=self.catalogue.red_button.sla.ack_minutes,
        )
        await self.bot.send_message(self.chat_id, text)


@router.callback_query(WizardCb.filter(), ServiceWizard.step, IsClient(consent=True))
async def wizard_button(query: CallbackQuery, callback_data: WizardCb, **data: Any) -> None:
    wizard = _Wizard.of(query.bot, query.from_user.id, data)
    service = await wizard.service()
    await query.answer()
    if service is None or callback_data.action == "cancel":
        await wizard.state.clear()
        await wizard.bot.send_message(wizard.chat_id, wizard.t("services.cancelled"))
        return
    index = int((await wizard.state.get_data())["index"])
    if callback_data.action == "back":
        await wizard.back(service)
    elif callback_data.action == "confirm" and index == len(service.steps):
        await wizard.submit(service)
    elif callback_data.action == "opt" and index < len(service.steps):
        await _option(wizard, service, index, callback_data.value)
    else:
        # A button from an earlier screen of this wizard: show where we are instead.
        await _show(wizard.bot, wizard.chat_id, wizard.t, service, wizard.state)


async def _option(wizard: _Wizard, service: Service, index: int, value: int) -> None:
    options = service.steps[index].options
    if not 0 <= value < len(options):
        await _show(wizard.bot, wizard.chat_id, wizard.t, service, wizard.state)
        return
    option = options[value]
    await wizard.advance(
        service, Answer(value=option.value, shown=option.title(wizard.t.language))
    )


@router.message(ServiceWizard.step, IsClient(consent=True), F.text, ~F.text.startswith("/"))
async def wizard_text(message: Message, **data: Any) -> None:
    wizard = _Wizard.of(message.bot, message.chat.id, data)
    service = await wizard.service()
    index = int((await wizard.state.get_data()).get("index", 0))
    if service is None or index >= len(service.steps):
        await message.answer(wizard.t("services.invalid.choose_button"))
        return
    client = wizard.identity.client
    assert client is not None
    try:
        answer = parse_answer(
            service.steps[index],
            message.text or "",
            language=wizard.t.language,
            tz=ZoneInfo(client.timezone),
            now=wizard.clock.now(),
        )
    except InvalidAnswer as invalid:
        await message.answer(
            wizard.t(f"services.invalid.{invalid.reason}", **invalid.params),
            reply_markup=_step_keyboard(wizard.t, service, index),
        )
        return
    await wizard.advance(service, answer)


@router.message(ServiceWizard.step, IsClient(consent=True), ~F.text.startswith("/"))
async def wizard_unsupported(message: Message, t: Translator) -> None:
    # Stickers, voice, photos: the wizard needs words or a button.
    await message.answer(t("services.invalid.content"))
