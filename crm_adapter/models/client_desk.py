"""Tables of the client desk: relayed messages (for manager replies) and survey invitations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.models.base import Base, BigIntPk


class RelayedMessageRow(Base):
    """A client's message as it appears in a staff chat, so a reply finds its way back."""

    __tablename__ = "relayed_message"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    # Message ids are unique per chat only, and chats per messenger, hence the triple.
    messenger: Mapped[str] = mapped_column(String(16), default="telegram")
    staff_chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    created_at: Mapped[datetime] = mapped_column()
    __table_args__ = (
        Index(
            "ix_relayed_message_chat_message",
            "messenger",
            "staff_chat_id",
            "message_id",
            unique=True,
        ),
    )


class SurveyRow(Base):
    """A survey put to a client (NPS once per quarter); the unique period makes it idempotent."""

    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # nps
    period: Mapped[str] = mapped_column(String(16))  # e.g. 2026Q4
    asked_at: Mapped[datetime] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    __table_args__ = (UniqueConstraint("client_id", "kind", "period"),)
