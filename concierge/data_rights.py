"""152-FZ rights of a data subject: an export of everything held, and erasure.

A client asks in the messenger (or by any other channel) and a ticket is opened
(`concierge.preferences.request_data_task`). The ticket's owner, the manager or
administrator it is assigned to, then runs the export or the erasure here, from the bot,
the CLI or the web desk alike. Every run and every refusal is audited; the answer the law
owes the client (the archive, or the confirmation of erasure) goes through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from common.clock import Clock
from common.i18n import Catalog
from concierge.data_archive import build_archive, file_name, record_count
from concierge.erasure_terms import name_forms, text_fragments
from crm_adapter.dto import Client, RequestStatus, Role, ServiceRequest, Staff
from crm_adapter.personal_data import Chat, ErasureReport
from crm_adapter.port import UnitOfWork

EXPORT_SERVICE, ERASURE_SERVICE = "data_export", "data_deletion"
# Outbox kinds of answers owed to the data subject: delivered even when consent has been
# withdrawn (they answer the person's own request; they are not processing for the bank's
# purposes). The delivery worker reads this.
OWED_TO_SUBJECT = frozenset({"data_export", "data_erased"})


class DataRightsRefusal(StrEnum):
    NOT_FOUND = "not_found"  # no such ticket
    WRONG_TICKET = "wrong_ticket"  # a ticket for something else, or for another client
    NOT_OWNER = "not_owner"  # not assigned to this staff member, or no serving role now
    CLOSED = "closed"  # the ticket was already resolved or cancelled
    ERASED = "erased"  # the client's data was erased already


class DataRightsRefused(Exception):
    """The staff member may not run this; the attempt is audited (commit to keep it)."""

    def __init__(self, reason: DataRightsRefusal, request_id: int) -> None:
        super().__init__(f"{reason.value}: request {request_id}")
        self.reason = reason
        self.request_id = request_id


class ConversationMemory(Protocol):
    """What a channel remembers of a person outside the CRM (form state, flood counters)."""

    async def forget(self, chat: Chat) -> int:
        """Drops it all for this account; returns how many entries went."""
        ...


@dataclass(frozen=True)
class ExportResult:
    client_id: int
    file_name: str
    archive: bytes
    records: int
    sections: int
    delivered: bool


@dataclass(frozen=True)
class ErasureResult:
    client_id: int
    external_id: str
    report: ErasureReport
    forgotten: int
    confirmed: bool


async def _ticket(
    uow: UnitOfWork,
    clock: Clock,
    *,
    staff: Staff,
    request_id: int,
    service: str,
    action: str,
    client_ref: str | None = None,
) -> tuple[ServiceRequest, Client]:
    """The open data ticket `staff` owns and its client, else an audited refusal."""
    request = await uow.requests.get(request_id)
    client = await uow.clients.get(request.client_id) if request else None
    reason: DataRightsRefusal | None = None
    if request is None or client is None:
        reason = DataRightsRefusal.NOT_FOUND
    elif request.service_code != service or client_ref not in (None, client.external_id):
        reason = DataRightsRefusal.WRONG_TICKET
    elif (
        not staff.active
        or not (staff.has_role(Role.MANAGER) or staff.has_role(Role.ADMIN))
        or request.assignee_id != staff.id
    ):
        reason = DataRightsRefusal.NOT_OWNER
    elif client.erased_at_marker:
        reason = DataRightsRefusal.ERASED
    elif request.closed:
        reason = DataRightsRefusal.CLOSED
    await uow.audit.record(
        now=clock.now(),
        action=action,
        outcome="ok" if reason is None else "denied",
        actor_staff_id=staff.id,
        subject_client_id=client.id if client else None,
        details={"request_id": request_id} | ({"reason": reason.value} if reason else {}),
    )
    if reason is not None or request is None or client is None:
        raise DataRightsRefused(reason or DataRightsRefusal.NOT_FOUND, request_id)
    return request, client


async def _close_ticket(
    uow: UnitOfWork, request: ServiceRequest, *, staff: Staff, now: datetime, note: str
) -> None:
    await uow.requests.update(
        request.id,
        status=RequestStatus.RESOLVED.value,
        acknowledged_at=request.acknowledged_at or now,
        resolved_at=now,
        closed_at=now,
    )
    await uow.requests.add_comment(
        request_id=request.id,
        author_kind="system",
        author_staff_id=staff.id,
        text=note,
        file_id=None,
        now=now,
    )


async def _answer_subject(
    uow: UnitOfWork,
    *,
    kind: str,
    key: str,
    chat_id: int,
    messenger: str,
    client_id: int | None,
    text: str,
    now: datetime,
    document: tuple[str, bytes] | None = None,
) -> bool:
    """Queues an answer owed to the data subject (OWED_TO_SUBJECT) in the caller's
    transaction, outside the contact policy's consent rule; False if already queued."""
    queued = await uow.outbox.add(
        idempotency_key=key,
        chat_id=chat_id,
        messenger=messenger,
        client_id=client_id,
        staff_id=None,
        text=text,
        keyboard=None,
        message_class="service",
        kind=kind,
        occasion_key=key,
        now=now,
        not_before=now,
        priority=10,
        document=document,
    )
    return queued is not None


async def export_client(
    uow: UnitOfWork,
    clock: Clock,
    *,
    staff: Staff,
    request_id: int,
    client_ref: str | None = None,
    deliver: bool = True,
    texts: Catalog | None = None,
) -> ExportResult:
    """Everything held about the ticket's client as a zip; queued to the client's chat when
    `deliver` (the CLI may write it to a file instead). Closes the ticket."""
    request, client = await _ticket(
        uow,
        clock,
        staff=staff,
        request_id=request_id,
        service=EXPORT_SERVICE,
        action="data_export",
        client_ref=client_ref,
    )
    now = clock.now()
    holdings = await uow.personal_data.collect(client.id)
    link = await uow.links.for_client(client.id)
    t = (texts or Catalog.shared()).translator(
        (link.language if link else None) or client.language
    )
    archive = build_archive(holdings, external_id=client.external_id, produced_at=now, t=t)
    name = file_name(client.external_id, now)
    delivered = False
    if deliver and link is not None and link.blocked_at is None:
        delivered = await _answer_subject(
            uow,
            kind="data_export",
            key=f"data_export:{request.id}",
            chat_id=link.chat_id,
            messenger=link.messenger,
            client_id=client.id,
            text=t("privacy.export_ready", id=request.id),
            now=now,
            document=(name, archive),
        )
    records = record_count(holdings)
    await _close_ticket(
        uow, request, staff=staff, now=now, note=f"export: {records} records, sent: {delivered}"
    )
    await uow.audit.record(
        now=now,
        action="data_exported",
        actor_staff_id=staff.id,
        subject_client_id=client.id,
        details={"request_id": request.id, "records": records, "delivered": delivered},
    )
    return ExportResult(
        client.id,
        name,
        archive,
        records,
        len([r for r in holdings.tables.values() if r]),
        delivered,
    )


async def erase_client(
    uow: UnitOfWork,
    clock: Clock,
    memory: ConversationMemory | None,
    *,
    staff: Staff,
    request_id: int,
    client_ref: str | None = None,
    texts: Catalog | None = None,
) -> ErasureResult:
    """Anonymises the ticket's client everywhere, forgets their conversations, confirms to
    their chat and closes the ticket. Irreversible once the caller commits.

    `memory` is the channel's conversation state (None where a process has none to reach:
    state kept in another process's memory lapses with REDIS_STATE_TTL_SECONDS or a restart).
    """
    request, client = await _ticket(
        uow,
        clock,
        staff=staff,
        request_id=request_id,
        service=ERASURE_SERVICE,
        action="data_erasure",
        client_ref=client_ref,
    )
    now = clock.now()
    holdings = await uow.personal_data.collect(client.id)
    links = holdings.rows("messenger_link")
    language = next((str(row["language"]) for row in links if row.get("language")), None)
    consent = await uow.consents.current(client.id)
    if consent is not None and consent.active:
        # The consent records stay as proof; the erasure ends the processing they allowed.
        await uow.consents.withdraw(client.id, now=now)
    report = await uow.personal_data.erase(
        client.id,
        mentions=name_forms(client, await uow.clients.all()),
        fragments=text_fragments(holdings),
        now=now,
    )
    t = (texts or Catalog.shared()).translator(language or client.language)
    confirmed = False
    for row in links:
        if row.get("blocked_at") is not None:
            continue
        # Addressed to the chat alone: there is no client record to address any more.
        sent = await _answer_subject(
            uow,
            kind="data_erased",
            key=f"data_erased:{request.id}:{row.get('messenger', 'telegram')}:{row['chat_id']}",
            chat_id=int(row["chat_id"]),
            messenger=str(row.get("messenger") or "telegram"),
            client_id=None,
            text=t("privacy.erased_client", id=request.id),
            now=now,
        )
        confirmed = confirmed or sent
    forgotten = 0
    if memory is not None:
        for chat in holdings.chats:
            forgotten += await memory.forget(chat)
    await _close_ticket(
        uow, request, staff=staff, now=now, note=f"erased: {report.total()} rows changed"
    )
    await uow.audit.record(
        now=now,
        action="data_erased",
        actor_staff_id=staff.id,
        subject_client_id=client.id,
        details={
            "request_id": request.id,
            "anonymised": report.anonymised,
            "deleted": report.deleted,
            "scrubbed": report.scrubbed,
            "conversation_entries": forgotten,
        },
    )
    return ErasureResult(client.id, client.external_id, report, forgotten, confirmed)
