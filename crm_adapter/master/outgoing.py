"""Queued writes as events: the local records they name, read back at send time.

What leaves for the CRM is what the store holds when the write is sent (the stored text,
masked where the store masks; a request's current state), in a few set-based reads per
batch whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_adapter import models as m
from crm_adapter.master.queue import QueuedWrite
from crm_adapter.master.records import CrmEvent, PersonRef, WriteKind


@dataclass
class _Refs:
    """Local id -> CRM id, per kind, for the records of one batch."""

    by_kind: dict[str, dict[int, str]]

    def of(self, kind: str, local_id: int | None) -> str | None:
        return None if local_id is None else self.by_kind.get(kind, {}).get(local_id)


async def refs_for(
    session: AsyncSession, wanted: dict[str, Iterable[int]]
) -> dict[str, dict[int, str]]:
    """CRM ids of the given local records, per kind (`crm_ref`)."""
    found: dict[str, dict[int, str]] = {}
    for kind, ids in wanted.items():
        unique = sorted(set(ids))
        if not unique:
            continue
        rows = await session.execute(
            select(m.CrmRefRow.local_id, m.CrmRefRow.remote_id).where(
                m.CrmRefRow.kind == kind, m.CrmRefRow.local_id.in_(unique)
            )
        )
        found[kind] = {int(local): str(remote) for local, remote in rows}
    return found


async def _rows_by_id(session: AsyncSession, model: Any, ids: Iterable[int]) -> dict[int, Any]:
    unique = sorted(set(ids))
    if not unique:
        return {}
    rows = await session.scalars(select(model).where(model.id.in_(unique)))
    return {row.id: row for row in rows}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


# The bot's calls that send something other than text, by what they send (the names an
# inbound message's content type uses).
_SENT_CONTENT = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVideo": "video",
    "sendVoice": "voice",
    "sendAudio": "audio",
    "sendMediaGroup": "media_group",
    "sendLocation": "location",
    "sendContact": "contact",
}


def _content(direction: str, payload: dict[str, Any] | None) -> str | None:
    """What a message carried (text, photo, document, ...): the messenger's content type of
    an inbound message, the kind of the bot's send; None when the log does not say."""
    payload = payload or {}
    if direction == "in":
        found = payload.get("content_type")
        return found if isinstance(found, str) else None
    if direction == "out":
        return _SENT_CONTENT.get(payload.get("method") or "")
    return None


async def load_events(
    session: AsyncSession, writes: Sequence[QueuedWrite]
) -> tuple[list[CrmEvent], dict[int, str]]:
    """The events of `writes` in their order, and the writes whose record is gone (id ->
    reason): a purged interaction, a deleted client."""
    by_kind: dict[WriteKind, list[int]] = {}
    for write in writes:
        by_kind.setdefault(write.kind, []).append(write.entity_id)
    interactions = await _rows_by_id(
        session, m.InteractionRow, by_kind.get(WriteKind.INTERACTION, [])
    )
    notes = await _rows_by_id(session, m.NoteRow, by_kind.get(WriteKind.NOTE, []))
    comments = await _rows_by_id(
        session, m.RequestCommentRow, by_kind.get(WriteKind.REQUEST_COMMENT, [])
    )
    requests = await _rows_by_id(
        session,
        m.ServiceRequestRow,
        [
            *by_kind.get(WriteKind.REQUEST, []),
            *by_kind.get(WriteKind.REQUEST_CHANGE, []),
            *(c.request_id for c in comments.values()),
        ],
    )
    consents = await _rows_by_id(session, m.ConsentRow, by_kind.get(WriteKind.CONSENT, []))
    clients = await _rows_by_id(session, m.ClientRow, (w.client_id for w in writes))
    staff_ids = [
        *(i.staff_id for i in interactions.values()),
        *(n.author_id for n in notes.values()),
        *(r.assignee_id for r in requests.values()),
        *(c.author_staff_id for c in comments.values()),
    ]
    staff = await _rows_by_id(session, m.StaffRow, (s for s in staff_ids if s is not None))
    refs = _Refs(
        await refs_for(
            session,
            {"client": clients, "staff": staff, "request": requests},
        )
    )
    builder = _Builder(refs, staff, requests)
    events: list[CrmEvent] = []
    gone: dict[int, str] = {}
    sources: dict[WriteKind, dict[int, Any]] = {
        WriteKind.INTERACTION: interactions,
        WriteKind.NOTE: notes,
        WriteKind.REQUEST: requests,
        WriteKind.REQUEST_CHANGE: requests,
        WriteKind.REQUEST_COMMENT: comments,
        WriteKind.CONSENT: consents,
    }
    for write in writes:
        record = sources[write.kind].get(write.entity_id)
        client = clients.get(write.client_id)
        if record is None or client is None:
            gone[write.id] = "source_gone"
            continue
        person = PersonRef(client.external_id, refs.of("client", client.id))
        events.append(builder.event(write, person, record))
    return events, gone


class _Builder:
    def __init__(self, refs: _Refs, staff: dict[int, Any], requests: dict[int, Any]) -> None:
        self._refs = refs
        self._staff = staff
        self._requests = requests

    def _person(self, staff_id: int | None) -> dict[str, Any] | None:
        row = self._staff.get(staff_id) if staff_id is not None else None
        if row is None:
            return None
        return PersonRef(row.external_id, self._refs.of("staff", row.id)).to_json()

    def event(self, write: QueuedWrite, client: PersonRef, record: Any) -> CrmEvent:
        data, occurred_at = self._data(write.kind, record)
        return CrmEvent(
            write_id=write.id,
            key=write.idempotency_key,
            kind=write.kind,
            client=client,
            occurred_at=occurred_at or write.created_at,
            data=data,
        )

    def _request(self, row: Any) -> dict[str, Any]:
        return {
            "request_id": row.id,
            "crm_id": self._refs.of("request", row.id),
            "service_code": row.service_code,
            "status": row.status,
            "urgent": row.urgent,
            "summary": row.summary,
            "assignee": self._person(row.assignee_id),
            "created_at": _iso(row.created_at),
            "ack_due_at": _iso(row.ack_due_at),
            "resolve_due_at": _iso(row.resolve_due_at),
            "acknowledged_at": _iso(row.acknowledged_at),
            "resolved_at": _iso(row.resolved_at),
            "closed_at": _iso(row.closed_at),
            "escalation_level": row.escalation_level,
        }

    def _data(self, kind: WriteKind, row: Any) -> tuple[dict[str, Any], datetime | None]:
        if kind is WriteKind.INTERACTION:
            return {
                "interaction_id": row.id,
                "channel": row.channel,
                # telegram | max for what a messenger carried (None for other channels).
                "messenger": row.messenger,
                "direction": row.direction,
                "kind": row.kind,
                "actor": row.actor,
                "staff": self._person(row.staff_id),
                "text": row.text,
                # A client's press: the label of the button, as they read it (the text is
                # the button's callback data, a code for the bot).
                "button": (row.payload or {}).get("button"),
                # A photo, a document, a voice message: what it was when it had no text
                # (or the text was not kept: a client without consent).
                "content": _content(row.direction, row.payload),
            }, row.occurred_at
        if kind is WriteKind.NOTE:
            return {
                "note_id": row.id,
                "kind": row.kind,
                "author": self._person(row.author_id),
                "text": row.text,
            }, row.created_at
        if kind in (WriteKind.REQUEST, WriteKind.REQUEST_CHANGE):
            return self._request(row), None
        if kind is WriteKind.REQUEST_COMMENT:
            request = self._requests.get(row.request_id)
            return {
                "comment_id": row.id,
                "request_id": row.request_id,
                "request_crm_id": self._refs.of("request", row.request_id),
                "service_code": request.service_code if request is not None else None,
                "author_kind": row.author_kind,
                "author": self._person(row.author_staff_id),
                "text": row.text,
                "has_file": row.file_id is not None,
            }, row.created_at
        return {
            "consent_id": row.id,
            "purpose": row.purpose,
            "granted": row.granted,
            "active": row.granted and row.withdrawn_at is None,
            "document_version": row.document_version,
            "channel": row.channel,
            "recorded_at": _iso(row.recorded_at),
            "withdrawn_at": _iso(row.withdrawn_at),
        }, row.withdrawn_at or row.recorded_at
