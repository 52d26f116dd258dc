"""What the client's and the staff's request handlers share: the comment an awaited message
makes on a request."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from common.clock import Clock
from concierge.notify import Notifier
from concierge.requests import comment_request
from crm_adapter.dto import Client, ServiceRequest, Staff
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import take_kept


async def comment_from_message(
    message: Message,
    state: FSMContext,
    uow: SqlUnitOfWork,
    notifier: Notifier,
    clock: Clock,
    *,
    client: Client | None = None,
    staff: Staff | None = None,
) -> ServiceRequest:
    """Adds the awaited message to the request `ask_for_text` kept, as its author's comment:
    the text, or a document with its caption. The wait ends here."""
    request_id = await take_kept(state, "request_id")
    return await comment_request(
        uow,
        notifier,
        clock,
        client=client,
        staff=staff,
        request_id=request_id,
        text=message.text or message.caption,
        file_id=message.document.file_id if message.document else None,
    )
