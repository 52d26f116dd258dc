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

# Files a person may send, by the content type the log keeps of an inbound message (the
# messenger's own name for it; MAX's image and file arrive as photo and document).
FILE_KINDS = frozenset({"photo", "document", "video", "voice", "audio", "video_note", "animation"})


@dataclass(frozen=True)
class ClientHistory:
    client: Client
    # Oldest first: a conversation reads downwards.
    lines: tuple[Interaction, ...]


def sent_file(item: Interaction) -> str | None:
    """The kind of file an inbound message carried ("photo", "document", ...), None for text.

    Only the kind: the log keeps the content type and message id of an update, never the
    messenger's file id, and the file itself stays in the messenger."""
    if item.direction != "in" or item.kind != "message":
        return None
    kind = (item.payload or {}).get("content_type")
    return kind if kind in FILE_KINDS else None


def _conversational(item: Interaction) -> bool:
    """Words and files exchanged: what the client wrote or sent and what reached them
    (answers, relays, notifications), not button presses, their acknowledgements or failed
    sends."""
    if item.direction == "in":
        return item.kind in {"message", "command"} and (
            bool(item.text) or sent_file(item) is not None
        )
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
