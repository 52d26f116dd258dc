"""A client's words that need a person: kept in a "question" request for whoever answers for
the client now, who is alerted; the client is told who will answer and by when.

Both the knowledge base (a question it cannot answer, or one the client wants a person for)
and the relay (a message no one's messenger could take) hand over this way.
"""

from __future__ import annotations

from typing import Any

from common.clock import Clock
from common.i18n import Catalog, local_time
from concierge.notify import Notifier, Outgoing
from concierge.request_access import default_texts
from concierge.requests import Receipt, create_request
from concierge.staffing import MANAGER_LEVEL
from crm_adapter.dto import Client, ServiceRequest
from crm_adapter.port import UnitOfWork

# A question handed over to a person keeps at most this much of the client's text.
QUESTION_LIMIT = 3000


async def hand_over_question(
    uow: UnitOfWork,
    notifier: Notifier,
    clock: Clock,
    *,
    client: Client,
    question: str,
    reason: str,
) -> ServiceRequest:
    """Makes the client's question a task for a person and tells the client who will answer.

    `reason` says why a person is needed ("client_asked", "low_confidence"); it is kept on
    the task and shown to the manager in words (`relay.hand_over_reason.<reason>`).
    """
    receipt = await open_question(
        uow, notifier, clock, client=client, text=question.strip(), reason=reason
    )
    t = default_texts().translator(client.language)
    await notifier.to_client(
        client.id,
        Outgoing(
            text=t(
                "relay.handed_over",
                staff=receipt.handler.full_name if receipt.handler else "—",
                due=local_time(receipt.request.ack_due_at, client.timezone),
            ),
            kind="hand_over",
            payload={"request_id": receipt.request.id},
        ),
    )
    return receipt.request


async def open_question(
    uow: UnitOfWork,
    notifier: Notifier,
    clock: Clock,
    *,
    client: Client,
    text: str | None,
    reason: str,
    texts: Catalog | None = None,
    start_level: int = MANAGER_LEVEL,
    attachment_lost: bool = False,
    extra: dict[str, Any] | None = None,
) -> Receipt:
    """A "question" request holding what the client wrote, for whoever answers for them from
    `start_level` on (alerted through the notifier). Its summary opens with why a person is
    needed, in words, in the language of the staff who take it (their card's, the CRM
    deal's); `attachment_lost` adds that a file came with it and was not kept (a messenger's
    file stays there)."""
    kept = (text or "")[:QUESTION_LIMIT]
    catalog = texts or default_texts()

    def summary(language: str) -> str:
        t = catalog.translator(language)
        # Not through `t(..., question=...)`: the summary is stored, and escaped where shown.
        lines = [t(f"relay.hand_over_reason.{reason}"), kept]
        if attachment_lost:
            lines.append(t("relay.attachment_not_kept"))
        return "\n".join(line for line in lines if line)

    return await create_request(
        uow,
        notifier,
        clock,
        client=client,
        service_code="question",
        summary=summary,
        extra={"question": kept, "reason": reason, **(extra or {})},
        texts=catalog,
        start_level=start_level,
    )
