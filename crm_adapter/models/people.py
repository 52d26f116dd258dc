"""Who the bank serves and who serves them: clients, staff, holding groups, messenger links."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.models.base import Base, BigIntPk


class StaffRow(Base):
    """A bank employee: personal manager, event coordinator, duty desk officer or admin."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(32), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    # Comma-separated subset of manager, coordinator, duty, admin: one person may hold several.
    roles: Mapped[str] = mapped_column(String(100))
    backup_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    language: Mapped[str] = mapped_column(String(8), default="ru")
    work_start: Mapped[time] = mapped_column(Time, default=time(9, 0))
    work_end: Mapped[time] = mapped_column(Time, default=time(19, 0))
    absent: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))


class HoldingGroupRow(Base):
    """Related companies and persons served by the bank, assessed as a whole."""

    __tablename__ = "holding_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)


class HoldingMemberRow(Base):
    """A member of a holding group: a client of ours, or a related company or person."""

    __tablename__ = "holding_member"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("holding_group.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    name: Mapped[str] = mapped_column(String(200))
    member_kind: Mapped[str] = mapped_column(String(16))  # company | person
    relation: Mapped[str | None] = mapped_column(String(100))
    annual_profit_rub: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=Decimal(0))
    __table_args__ = (UniqueConstraint("group_id", "name"),)


class ClientRow(Base):
    """A VIP client with contact preferences, segments and the personal manager."""

    __tablename__ = "client"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(32), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    birthday: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(1))
    city: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    language: Mapped[str] = mapped_column(String(8), default="ru")
    preferred_channel: Mapped[str] = mapped_column(String(16), default="messenger")
    quiet_start: Mapped[time] = mapped_column(Time, default=time(22, 0))
    quiet_end: Mapped[time] = mapped_column(Time, default=time(9, 0))
    do_not_disturb: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # Recorded segments (the CRM's own view); insights recompute them with reasons.
    financial_segment: Mapped[str | None] = mapped_column(String(32))
    values_segment: Mapped[str | None] = mapped_column(String(32))
    occupation: Mapped[str | None] = mapped_column(String(200))
    is_public_person: Mapped[bool] = mapped_column(Boolean, default=False)
    opinion_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    # Public persons only: media mentions and search queries over 90 days, for the popularity
    # index (DOMAIN.md); empty when the bank's media monitoring has no figures.
    media_mentions_90d: Mapped[int | None] = mapped_column(Integer)
    search_queries_90d: Mapped[int | None] = mapped_column(Integer)
    decision_influencer: Mapped[str | None] = mapped_column(String(200))
    what_matters: Mapped[str | None] = mapped_column(String(200))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    previous_manager_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    manager_since: Mapped[date | None] = mapped_column(Date)
    holding_group_id: Mapped[int | None] = mapped_column(ForeignKey("holding_group.id"))
    client_since: Mapped[date | None] = mapped_column(Date)
    # Data-subject requests never hard-delete silently: staff act on the task, then mark here.
    erased_at: Mapped[datetime | None] = mapped_column()
    # When the client was told not to send card or identity data in the chat (once ever).
    card_data_warned_at: Mapped[datetime | None] = mapped_column()
    # Set when the bank's CRM (the master) no longer has the client: nobody is served or shown
    # them any more; the history stays for the retention period.
    crm_removed_at: Mapped[datetime | None] = mapped_column()


class MessengerLinkRow(Base):
    """Binds a messenger account to exactly one client or one staff member.

    A person has at most one account per messenger (telegram, max) and may have one in each.
    """

    __tablename__ = "messenger_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    messenger: Mapped[str] = mapped_column(String(16), default="telegram")
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    linked_at: Mapped[datetime] = mapped_column()
    language: Mapped[str | None] = mapped_column(String(8))
    blocked_at: Mapped[datetime | None] = mapped_column()
    # The person's choice among their linked messengers for messages the bank starts
    # (notifications, reminders); without one, the account linked last.
    preferred: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (UniqueConstraint("messenger", "user_id"),)


class LinkCodeRow(Base):
    """A one-time deep-link code; only its hash is stored."""

    __tablename__ = "link_code"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    used_by_user_id: Mapped[int | None] = mapped_column(BigInteger)


class ConsentRow(Base):
    """A consent to personal-data processing (152-FZ): a separate, versioned record."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32), default="personal_data")
    document_version: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    __table_args__ = (Index("ix_consent_client_purpose", "client_id", "purpose"),)
