"""Admins: the queue of writes to the bank's own CRM (`/crm_queue`) and retrying dead letters."""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.callbacks import CrmQueueCb
from bot.filters import IsStaff, staff_only
from bot.keyboards import Keyboard
from common.clock import Clock
from common.i18n import Translator
from common.settings import Settings
from concierge.crm_queue import CrmQueueReport, crm_queue_report, retry_dead_letters
from crm_adapter.dto import Role, Staff
from crm_adapter.sql import SqlUnitOfWork

router = staff_only(Router(name="crm_queue"))
ADMIN = IsStaff(Role.ADMIN)


def _moment(t: Translator, value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else t("crm.queue.never")


def render(report: CrmQueueReport, t: Translator) -> str:
    status = report.status
    if status is None:
        return t("crm.queue.local")
    lines = [
        t("crm.queue.title", backend=report.backend),
        t(
            "crm.queue.counts",
            pending=status.pending,
            sending=status.sending,
            done=status.done,
            dead=status.dead,
        ),
        t("crm.queue.last_delivered", when=_moment(t, status.last_delivered_at)),
    ]
    if status.oldest_owed_at is not None:
        lines.append(t("crm.queue.oldest", when=_moment(t, status.oldest_owed_at)))
    if not status.dead_letters:
        lines.append(t("crm.queue.no_dead"))
        return "\n".join(lines)
    lines.append(t("crm.queue.dead_title", shown=len(status.dead_letters), total=status.dead))
    lines.extend(
        t(
            "crm.queue.dead_line",
            id=d.id,
            kind=d.kind,
            client=d.client_external_id,
            attempts=d.attempts,
            error=d.last_error or "—",
        )
        for d in status.dead_letters
    )
    return "\n".join(lines)


def _keyboard(report: CrmQueueReport, t: Translator) -> InlineKeyboardMarkup | None:
    if report.status is None or not report.status.dead:
        return None
    keyboard = Keyboard().button(
        text=t("crm.queue.retry_button"), callback_data=CrmQueueCb(action="retry")
    )
    return keyboard.as_markup()


@router.message(Command("crm_queue"), ADMIN)
async def show_queue(
    message: Message,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    settings: Settings,
    t: Translator,
) -> None:
    report = await crm_queue_report(uow, clock=clock, staff=staff, backend=settings.crm.backend)
    if report is not None:
        await message.answer(render(report, t), reply_markup=_keyboard(report, t))


@router.callback_query(CrmQueueCb.filter(F.action == "retry"), ADMIN)
async def retry_dead(
    query: CallbackQuery,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    requeued = await retry_dead_letters(uow, clock=clock, staff=staff)
    await query.answer(t("crm.queue.requeued", count=requeued or 0), show_alert=True)
