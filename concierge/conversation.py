"""One conversation per client, whichever messengers they wrote from: what staff read back.

The interaction log keeps every message in and out with the messenger that carried it; the
history shows them in one timeline, each marked with its messenger, to staff who may see the
client (audited like every view of client data).
"""

from __future__ import annotations

from dataclasses import dataclass

from common.clock import Clock
from concierge.access import open_client
from crm_adapter.dto import Client, Interaction, Staff
from crm_adapter.port import UnitOfWork

# Interactions read for one history; button presses and plumbing are left out of what shows.
HISTORY_WINDOW = 200


@dataclass(frozen=True)
class ClientHistory:
    client: Client
    # Oldest first: a conversation reads downwards.
    lines: tuple[Interaction, ...]


def _conversational(item: Interaction) -> bool:
    """Words exchanged: what the client wrote and what reached them (answers, relays,
    notifications), not button presses, their acknowledgements or failed sends."""
    if item.direction == "in":
        return item.kind in {"message", "command"} and bool(item.text)
    if item.direction == "out":
        acknowledgement = (item.payload or {}).get("method") == "answerCallbackQuery"
        return bool(item.text) and item.kind != "delivery_failed" and not acknowledgement
    return False


async def conversation_history(
    uow: UnitOfWork, *, clock: Clock, staff: Staff, client_id: int, limit: int = 30
) -> ClientHistory | None:
    """The client's last `limit` messages in every messenger, if `staff` may see them."""
    client = await open_client(
        uow, clock=clock, staff=staff, client_id=client_id, action="view_history"
    )
    if client is None:
        return None
    recent = await uow.interactions.for_client(client_id, limit=HISTORY_WINDOW)
    shown = [item for item in recent if _conversational(item)][:limit]
    return ClientHistory(client, tuple(reversed(shown)))
