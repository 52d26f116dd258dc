"""Proactive delivery: the outbox, contact-policy decisions, rule firings and the leader lease."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Unicode,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.models.base import Base, BigIntPk


class OutboxMessageRow(Base):
    """A message waiting to be sent, being sent, or done: recorded before any send happens."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    # Unique: the same occasion can never be enqueued twice, whoever asks.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # The messenger the chat belongs to: each has its own sender and rate limits.
    messenger: Mapped[str] = mapped_column(String(16), default="telegram")
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    text: Mapped[str] = mapped_column(Text)
    keyboard: Mapped[dict[str, Any] | None] = mapped_column()
    document_name: Mapped[str | None] = mapped_column(String(200))
    document_content: Mapped[bytes | None] = mapped_column(LargeBinary)
    message_class: Mapped[str] = mapped_column(String(16))  # service | marketing
    kind: Mapped[str] = mapped_column(String(32))
    occasion_key: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lower goes first
    created_at: Mapped[datetime] = mapped_column()
    not_before: Mapped[datetime] = mapped_column()
    # pending | sending | sent | failed | blocked
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None] = mapped_column()
    __table_args__ = (
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
        Index("ix_outbox_message_client_class", "client_id", "message_class"),
    )


class ContactDecisionRow(Base):
    """What the contact policy decided about one proactive message, and why."""

    __tablename__ = "contact_decision"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    decided_at: Mapped[datetime] = mapped_column(index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    kind: Mapped[str] = mapped_column(String(32))
    message_class: Mapped[str] = mapped_column(String(16))
    occasion_key: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))  # send | defer | suppress
    reason: Mapped[str] = mapped_column(String(48))
    not_before: Mapped[datetime | None] = mapped_column()
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id"))


class RuleFiringRow(Base):
    """A trigger rule fired for a client's occasion; the unique key makes it fire once."""

    __tablename__ = "rule_firing"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    occasion_key: Mapped[str] = mapped_column(String(200), unique=True)
    fired_at: Mapped[datetime] = mapped_column()


class SchedulerLeaseRow(Base):
    """Lease of a named lock (the scheduler leader, the knowledge ingestion) for databases
    without advisory locks (SQLite): one row per lock name."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column()
    heartbeat_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


class SchedulerJobRow(Base):
    """APScheduler's persistent job store table, created by our migration.

    APScheduler would otherwise create it on start with a synchronous DDL statement from the
    event-loop thread; on SQLite that statement can wait on the write lock held by the bot's
    own open transaction, which cannot finish while the loop is blocked. The columns are
    exactly the ones APScheduler 3 declares.
    """

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)
