"""The staff web desk's own records: one-time login links and signed-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.models.base import Base, BigIntPk


class WebLoginCodeRow(Base):
    """A one-time login link for the web desk, sent to a staff member's messenger.

    Kept apart from `link_code` on purpose: a login code must never bind a messenger
    account, and a messenger link code must never open a web session.
    """

    __tablename__ = "web_login_code"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class WebSessionRow(Base):
    """A signed-in browser; only the hash of the cookie's token is stored."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_staff", "staff_id"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
