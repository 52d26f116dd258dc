"""Work done for clients: service requests, meetings, closed events and invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.models.base import Base, MaskedJSON, MaskedText


class ServiceRequestRow(Base):
    """A client's request for a service, with its SLA and escalation state."""

    __tablename__ = "service_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    service_code: Mapped[str] = mapped_column(String(48))
    # new | accepted | resolved | cancelled
    status: Mapped[str] = mapped_column(String(16), default="new")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str] = mapped_column(MaskedText)
    details: Mapped[dict[str, Any] | None] = mapped_column(MaskedJSON)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column()
    ack_due_at: Mapped[datetime] = mapped_column()
    resolve_due_at: Mapped[datetime] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (Index("ix_service_request_status_due", "status", "resolve_due_at"),)


class RequestCommentRow(Base):
    """A comment or attached document on a service request, from the client or staff."""

    __tablename__ = "request_comment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id"), index=True)
    author_kind: Mapped[str] = mapped_column(String(16))  # client | staff | system
    author_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    text: Mapped[str | None] = mapped_column(MaskedText)
    file_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()


class MeetingRow(Base):
    """A planned meeting of a client with the personal manager."""

    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    manager_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    place: Mapped[str | None] = mapped_column(String(200))
    topic: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="planned")  # planned | held | ...
    created_at: Mapped[datetime] = mapped_column()
    # Set when the automatic pre-meeting briefing went out, so it is sent once.
    briefing_sent_at: Mapped[datetime | None] = mapped_column()


class EventRow(Base):
    """A closed event the bank organises for its clients."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    venue: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(100))
    capacity: Mapped[int] = mapped_column(Integer)
    plus_ones_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    rsvp_deadline: Mapped[datetime | None] = mapped_column()
    # Target audience criteria: segments, managers, minimum value, interests, city.
    audience: Mapped[dict[str, Any] | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft|open|cancelled|done
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column()
    # Hours after sending before one reminder goes to those who have not answered.
    reminder_delay_hours: Mapped[int] = mapped_column(Integer, default=72)
    # Bumped on every time or venue change: calendars replace an event only with a higher one.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()


class InvitationRow(Base):
    """A client's invitation to an event and their answer."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    # planned | sent | accepted | declined | maybe | waitlisted | checked_in | withdrawn
    status: Mapped[str] = mapped_column(String(16), default="planned")
    plus_one: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    waitlisted_at: Mapped[datetime | None] = mapped_column()
    checkin_code_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    checked_in_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(MaskedText)
    # Each reminder goes at most once; these record that it went.
    reminder_sent_at: Mapped[datetime | None] = mapped_column()
    day_before_sent_at: Mapped[datetime | None] = mapped_column()
    two_hours_sent_at: Mapped[datetime | None] = mapped_column()
    thanks_sent_at: Mapped[datetime | None] = mapped_column()
    __table_args__ = (UniqueConstraint("event_id", "client_id"),)
