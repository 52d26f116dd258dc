"""The slice of the CRM port the manager workspace reads: details, activity, work and groups."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from crm_adapter.dto import Dto


class ClientDetails(Dto):
    """Soft facts and relationship history kept beside the client's core record."""

    client_id: int
    occupation: str | None
    is_public_person: bool
    opinion_leader: bool
    decision_influencer: str | None
    what_matters: str | None
    previous_manager_id: int | None
    manager_since: date | None
    media_mentions_90d: int | None = None
    search_queries_90d: int | None = None


class Transaction(Dto):
    occurred_at: datetime
    amount_rub: Decimal  # positive = incoming
    category: str
    description: str | None


class Contact(Dto):
    """One logged interaction, without its text: enough for activity trends and channels."""

    occurred_at: datetime
    channel: str
    direction: str
    kind: str
    actor: str
    # telegram | max when a messenger carried it.
    messenger: str | None = None

    @property
    def medium(self) -> str:
        """The channel as people name it: the messenger itself when there was one."""
        return self.messenger or self.channel


class Feedback(Dto):
    kind: str  # request | event | nps
    score: int
    comment: str | None
    created_at: datetime


class InvitationView(Dto):
    event_id: int
    event_title: str
    event_starts_at: datetime
    event_timezone: str
    status: str
    sent_at: datetime | None
    answered_at: datetime | None
    checked_in_at: datetime | None

    @property
    def event_day(self) -> date:
        """The event's calendar day at the venue, as its invitation names it (in UTC a
        late-evening event in Moscow would fall on the next day)."""
        return self.event_starts_at.astimezone(ZoneInfo(self.event_timezone)).date()


class OpenRequest(Dto):
    id: int
    service_code: str
    status: str
    urgent: bool
    summary: str
    created_at: datetime
    resolve_due_at: datetime


class MeetingView(Dto):
    id: int
    client_id: int
    manager_id: int
    starts_at: datetime
    place: str | None
    topic: str | None
    status: str
    briefing_sent_at: datetime | None


class HoldingMemberView(Dto):
    name: str
    member_kind: str
    relation: str | None
    client_id: int | None
    annual_profit_rub: Decimal


class HoldingGroupView(Dto):
    id: int
    name: str
    members: tuple[HoldingMemberView, ...]


class WorkspaceRepository(Protocol):
    """Read-mostly queries behind the client card, insights and briefings."""

    async def details(self, client_id: int) -> ClientDetails | None: ...
    async def public_person_metrics(self) -> list[tuple[int, int, int]]:
        """(client id, media mentions, search queries) of every public person with figures."""
        ...

    async def transactions(self, client_id: int, *, since: datetime) -> list[Transaction]: ...
    async def contacts(self, client_id: int, *, since: datetime) -> list[Contact]: ...
    async def feedback(self, client_id: int) -> list[Feedback]: ...
    async def invitations(self, client_id: int) -> list[InvitationView]: ...
    async def open_requests(self, client_id: int) -> list[OpenRequest]: ...
    async def meetings(self, client_id: int) -> list[MeetingView]: ...
    async def holding_group(self, group_id: int) -> HoldingGroupView | None: ...
    async def due_meetings(self, *, start: datetime, end: datetime) -> list[MeetingView]:
        """Planned meetings starting in [start, end) whose briefing has not been sent."""
        ...

    async def mark_briefing_sent(self, meeting_id: int, *, now: datetime) -> bool:
        """Records the briefing as sent; False when another run already did."""
        ...

    async def release_briefing(self, meeting_id: int) -> None:
        """Undoes `mark_briefing_sent` when delivery failed, so the next run retries."""
        ...
