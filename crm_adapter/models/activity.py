"""What happens with a client: interactions, holdings, transactions, life events, notes, audit."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.models.base import Base, BigIntPk, MaskedJSON, MaskedText


class InteractionRow(Base):
    """Every inbound and outbound message, button press and notification, in every channel."""

    __tablename__ = "interaction"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(16))  # messenger | phone | email | meeting | ...
    direction: Mapped[str] = mapped_column(String(8))  # in | out | internal
    kind: Mapped[str] = mapped_column(String(32))  # message | command | callback | notification
    actor: Mapped[str] = mapped_column(String(16))  # client | staff | bot | system | unknown
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    # What people wrote, with sensitive numbers masked; after consent is withdrawn, and for
    # people nobody linked, not even that (bot.middlewares keeps metadata only).
    text: Mapped[str | None] = mapped_column(MaskedText)
    # Ids, kinds and codes only (message ids, buttons' callback data, outbox ids; for a
    # client's press the bank's own label of the button), never a person's words: those go
    # in `text`. Not masked, so every reply's write stays cheap.
    payload: Mapped[dict[str, Any] | None] = mapped_column()
    # Which messenger carried it (telegram | max); empty for other channels and internal rows.
    messenger: Mapped[str | None] = mapped_column(String(16))
    # The messenger's update id: unique per messenger, so a redelivered update can never be
    # logged twice (Telegram's and MAX's ids are counted independently and may coincide).
    update_id: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (
        Index("ix_interaction_client_time", "client_id", "occurred_at"),
        UniqueConstraint("messenger", "update_id", name="uq_interaction_messenger_update"),
    )


class AuditEntryRow(Base):
    """Who looked at or changed what: every staff view of client data, every refused access."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor_client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64))
    subject_client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok | denied | error
    details: Mapped[dict[str, Any] | None] = mapped_column(MaskedJSON)


class ProductHoldingRow(Base):
    """A product the client holds, with its balance in the product's currency."""

    __tablename__ = "product_holding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    # deposit | savings | brokerage | trust | mutual_fund | structured | alternative |
    # insurance_life | insurance_property | insurance_travel | credit_line | premium_card | fx
    product_type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    balance: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    rate_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    opened_on: Mapped[date | None] = mapped_column(Date)
    matures_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")


class TransactionRow(Base):
    """An account movement; activity trends and large incoming funds are read from these."""

    __tablename__ = "account_transaction"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    occurred_at: Mapped[datetime] = mapped_column()
    amount_rub: Mapped[Decimal] = mapped_column(Numeric(18, 2))  # positive = incoming
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (Index("ix_transaction_client_time", "client_id", "occurred_at"),)


class LifeEventRow(Base):
    """A recorded circumstance of the client's life: business handover, child abroad, etc."""

    __tablename__ = "life_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    kind: Mapped[str] = mapped_column(String(48))
    happened_on: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(MaskedText)
    recorded_at: Mapped[datetime] = mapped_column()


class NoteRow(Base):
    """A manager's note after a meeting or call; shown in the next briefing."""

    __tablename__ = "note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column()
    text: Mapped[str] = mapped_column(MaskedText)
    kind: Mapped[str] = mapped_column(String(32), default="note")  # note | interest | fact


class FeedbackRow(Base):
    """A rating of a resolved request or an event, or an NPS answer."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # request | event | nps
    subject_id: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(MaskedText)
    created_at: Mapped[datetime] = mapped_column()
