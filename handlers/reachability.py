"""A person stops (blocks) the bot in one messenger, or comes back: their account follows.

Telegram tells it with a member update; the MAX transport turns MAX's `bot_stopped` into the
same update. Coming back to MAX is pressing Start again, which arrives as a plain /start
(`handlers.start`).
"""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatMemberStatus
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated

from common.clock import Clock
from concierge.identity import Identity
from concierge.linking import record_reachability
from crm_adapter.sql import SqlUnitOfWork

router = Router(name="reachability")


@router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=KICKED | MEMBER))
async def bot_stopped_or_restarted(
    event: ChatMemberUpdated, identity: Identity, uow: SqlUnitOfWork, clock: Clock
) -> None:
    if identity.link is not None:
        reachable = event.new_chat_member.status != ChatMemberStatus.KICKED
        await record_reachability(uow, clock=clock, link=identity.link, reachable=reachable)
