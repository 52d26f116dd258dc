"""`/web`: a one-time login link to the staff web desk, sent to the staff member's own chat."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import LinkPreviewOptions, Message

from bot.filters import IsStaff, staff_only
from common.clock import Clock
from common.i18n import Translator
from common.settings import Settings
from concierge.desk_login import DeskPolicy, issue_login, login_link_text
from crm_adapter.dto import Staff
from crm_adapter.sql import SqlUnitOfWork

router = staff_only(Router(name="web_login"))


@router.message(Command("web"), IsStaff())
async def web_link(
    message: Message,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    settings: Settings,
) -> None:
    desk = settings.web
    policy = DeskPolicy.from_settings(desk)
    issued = await issue_login(uow, clock=clock, staff=staff, policy=policy)
    if issued is None:
        await message.answer(t("errors.forbidden"))
        return
    # No preview: a messenger fetching the page to preview it must not see the code's page.
    await message.answer(
        login_link_text(t, issued, base_url=desk.public_url, timezone=staff.timezone),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
