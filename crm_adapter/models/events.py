"""Tables specific to closed events: managers' additions to and removals from an audience."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.models.base import Base


class AudienceOverrideRow(Base):
    """A personal manager's decision to add or remove their own client from an event audience.

    Kept apart from invitations because it is decided before anything is sent, and the
    audience criteria can be re-evaluated afterwards without losing the manager's choice.
    """

    __tablename__ = "event_audience_override"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    include: Mapped[bool] = mapped_column(Boolean)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime] = mapped_column()
    __table_args__ = (UniqueConstraint("event_id", "client_id"),)
