"""The bank's own CRM as master: the write-back queue, ids on the CRM's side, sync cursors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.models.base import Base, BigIntPk


class CrmWriteRow(Base):
    """One write owed to the external CRM, queued in the transaction of the local change.

    It names the local record (`kind`, `entity_id`); the writer reads that record when it
    sends, so the text that leaves is the text that was stored (masked where the store masks).
    Writes of one client go out in `id` order.
    """

    __tablename__ = "crm_write"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    # Sent with the write; the CRM side is searched for it when a send may have been lost.
    # Unique by construction (the record's id, plus a random suffix for records written more
    # than once); not indexed, since nothing looks a write up by it here and every index is
    # one more page each update's commit writes.
    idempotency_key: Mapped[str] = mapped_column(String(120))
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    # interaction | note | request | request_change | request_comment | consent
    kind: Mapped[str] = mapped_column(String(24))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column()
    # pending | sending | done | dead
    status: Mapped[str] = mapped_column(String(12), default="pending")
    # A send whose fate is unknown (a crash or a timeout after the request left): before it
    # is sent again, the CRM is asked whether it arrived.
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column()
    # An error code and a short reason: never a text or a name (admins read it).
    last_error: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None] = mapped_column()
    # One index serves the claim (pending by id, and for each the earlier owed writes of its
    # client), the counts for admins and the purge of delivered ones.
    __table_args__ = (Index("ix_crm_write_queue", "status", "client_id", "id"),)


class CrmRefRow(Base):
    """A local record's id in the external CRM (a Bitrix24 contact, user, deal, item)."""

    __tablename__ = "crm_ref"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    # client | staff | request | holding | life_event
    kind: Mapped[str] = mapped_column(String(16))
    local_id: Mapped[int] = mapped_column(BigInteger)
    remote_id: Mapped[str] = mapped_column(String(64))
    __table_args__ = (
        Index("ux_crm_ref_local", "kind", "local_id", unique=True),
        Index("ux_crm_ref_remote", "kind", "remote_id", unique=True),
    )


class CrmSyncStateRow(Base):
    """Named sync state: change cursors per stream, the rotated OAuth tokens of a portal."""

    __tablename__ = "crm_sync_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
