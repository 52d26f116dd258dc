"""Sensitive data a client sends in the chat: told once that it belongs in the bank's secure
channel. (Masking itself happens wherever texts are stored, relayed or logged:
`common.sensitive`.)"""

from __future__ import annotations

from datetime import datetime

from common.sensitive import Masked
from crm_adapter.dto import Client
from crm_adapter.port import UnitOfWork


async def warn_once(uow: UnitOfWork, *, client: Client, masked: Masked, now: datetime) -> bool:
    """Whether to tell the client now: their text held card or identity data and they were
    never told before. Being told is remembered on the client's record."""
    if not masked.secret or client.card_data_warned_at is not None:
        return False
    await uow.clients.update_preferences(client.id, card_data_warned_at=now)
    return True
