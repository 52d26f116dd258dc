"""Retention: what the purge of each log and working record does once a row is older than
the retention period, and which tables with text it leaves, and why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_adapter import models as m
from crm_adapter.personal_data import ERASED


async def _rowcount(session: AsyncSession, statement: Any) -> int:
    result: Any = await session.execute(statement)
    return int(result.rowcount)


def _closed_requests(moment: datetime) -> Any:
    requests = m.ServiceRequestRow.__table__
    return select(requests.c.id).where(
        requests.c.closed_at.is_not(None), requests.c.closed_at < moment
    )


# The logs and working records that hold personal data, and what their purge does once a row
# is older than the retention period. The client's profile (the client row, life events,
# holdings, transactions, consents, links) lives as long as the relationship and goes with
# an erasure; interactions have their own purge (concierge.retention.purge_interactions).
Purge = Callable[[AsyncSession, datetime], Any]
RETENTION: dict[str, Purge] = {
    "note": lambda s, t: _rowcount(s, delete(m.NoteRow).where(m.NoteRow.created_at < t)),
    "service_request": lambda s, t: _rowcount(
        s,
        update(m.ServiceRequestRow)
        .where(m.ServiceRequestRow.id.in_(_closed_requests(t)))
        .where(m.ServiceRequestRow.summary != ERASED)
        .values(summary=ERASED, details=None),
    ),
    "request_comment": lambda s, t: _rowcount(
        s,
        update(m.RequestCommentRow)
        .where(m.RequestCommentRow.request_id.in_(_closed_requests(t)))
        .where(
            or_(m.RequestCommentRow.text.is_not(None), m.RequestCommentRow.file_id.is_not(None))
        )
        .values(text=None, file_id=None),
    ),
    "relayed_message": lambda s, t: _rowcount(
        s, delete(m.RelayedMessageRow).where(m.RelayedMessageRow.created_at < t)
    ),
    # Who looked at what stays provable; what the entry said about it (names typed into a
    # search, request numbers) goes.
    "audit_entry": lambda s, t: _rowcount(
        s,
        update(m.AuditEntryRow)
        .where(m.AuditEntryRow.occurred_at < t, m.AuditEntryRow.details.is_not(None))
        .values(details=None),
    ),
    # Finished messages keep their delivery record (contact decisions point at them).
    "outbox_message": lambda s, t: _rowcount(
        s,
        update(m.OutboxMessageRow)
        .where(
            m.OutboxMessageRow.created_at < t,
            m.OutboxMessageRow.status.in_(("sent", "failed", "blocked")),
            m.OutboxMessageRow.text != ERASED,
        )
        .values(
            text=ERASED, keyboard=None, document_name=None, document_content=None, last_error=None
        ),
    ),
    "feedback": lambda s, t: _rowcount(
        s,
        update(m.FeedbackRow)
        .where(m.FeedbackRow.created_at < t, m.FeedbackRow.comment.is_not(None))
        .values(comment=None),
    ),
    "meeting": lambda s, t: _rowcount(
        s,
        update(m.MeetingRow)
        .where(
            m.MeetingRow.starts_at < t,
            or_(m.MeetingRow.topic.is_not(None), m.MeetingRow.place.is_not(None)),
        )
        .values(topic=None, place=None),
    ),
    "invitation": lambda s, t: _rowcount(
        s,
        update(m.InvitationRow)
        .where(
            m.InvitationRow.event_id.in_(select(m.EventRow.id).where(m.EventRow.ends_at < t)),
            or_(m.InvitationRow.note.is_not(None), m.InvitationRow.checkin_code_hash.is_not(None)),
        )
        .values(note=None, checkin_code_hash=None),
    ),
    # The web desk's sign-ins: who signed in when is in the audit log; the rows go.
    "web_login_code": lambda s, t: _rowcount(
        s, delete(m.WebLoginCodeRow).where(m.WebLoginCodeRow.expires_at < t)
    ),
    "web_session": lambda s, t: _rowcount(
        s, delete(m.WebSessionRow).where(m.WebSessionRow.expires_at < t)
    ),
}
# Tables with text that the purge leaves, and why (a test keeps this list complete).
RETAINED = {
    "interaction": "purged by concierge.retention.purge_interactions",
    "client": "the profile: kept while the client is served, removed by erasure",
    "life_event": "the profile: kept while the client is served, removed by erasure",
    "product_holding": "accounting",
    "account_transaction": "accounting; descriptions removed by erasure",
    "holding_group": "companies of a holding group, not persons",
    "holding_member": "the group's structure; a member who is a client is erased with them",
    "consent": "proof of consent and withdrawal (152-FZ)",
    "messenger_link": "the live link; removed by erasure",
    "link_code": "hashes of one-time codes, no personal data",
    "staff": "the bank's employees",
    "event": "the bank's events, no client data",
    "event_audience_override": "ids only",
    "survey": "ids and periods only",
    "contact_decision": "ids, kinds and reasons only",
    "rule_firing": "occasion keys of ids and dates only",
    "scheduler_lease": "the scheduler's own bookkeeping",
    "apscheduler_jobs": "the scheduler's own bookkeeping",
    "crm_write": "ids, keys and error codes only; delivered ones purged after 30 days",
    "crm_ref": "ids in the store and in the bank's CRM only",
    "crm_sync_state": "sync cursors and the CRM app's rotating token, no client data",
}
