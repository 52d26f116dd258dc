"""The client snapshot every manager view is computed from, loaded in exactly one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_adapter.dto import Client, LifeEvent, Note, ProductHolding, Staff
from crm_adapter.port import UnitOfWork
from crm_adapter.workspace import (
    ClientDetails,
    Contact,
    Feedback,
    HoldingGroupView,
    InvitationView,
    MeetingView,
    OpenRequest,
    Transaction,
)

# Activity trends compare the last 90 days with the 270 before them: a year of history.
HISTORY = timedelta(days=365)


@dataclass(frozen=True)
class ClientProfile:
    """Everything insights and briefings need, as of `as_of`; pure data, no I/O."""

    client: Client
    as_of: datetime
    details: ClientDetails | None = None
    manager: Staff | None = None
    holdings: tuple[ProductHolding, ...] = ()
    transactions: tuple[Transaction, ...] = ()
    contacts: tuple[Contact, ...] = ()
    feedback: tuple[Feedback, ...] = ()
    invitations: tuple[InvitationView, ...] = ()
    open_requests: tuple[OpenRequest, ...] = ()
    meetings: tuple[MeetingView, ...] = ()
    life_events: tuple[LifeEvent, ...] = ()
    notes: tuple[Note, ...] = ()
    group: HoldingGroupView | None = None
    # (media mentions, search queries) of every public person with figures, the client too:
    # the reference group of the popularity index.
    public_peers: tuple[tuple[int, int], ...] = ()

    @property
    def client_id(self) -> int:
        return self.client.id

    def last_meeting(self) -> MeetingView | None:
        held = [m for m in self.meetings if m.starts_at < self.as_of and m.status != "cancelled"]
        return held[-1] if held else None

    def next_meeting(self) -> MeetingView | None:
        coming = [m for m in self.meetings if m.starts_at >= self.as_of and m.status == "planned"]
        return coming[0] if coming else None


async def load_profile(uow: UnitOfWork, *, client: Client, now: datetime) -> ClientProfile:
    """Reads the snapshot; callers check access first (see `concierge.access`)."""
    since = now - HISTORY
    ws = uow.workspace
    group = await ws.holding_group(client.holding_group_id) if client.holding_group_id else None
    details = await ws.details(client.id)
    peers: tuple[tuple[int, int], ...] = ()
    if details is not None and details.is_public_person:
        peers = tuple((m, s) for _, m, s in await ws.public_person_metrics())
    return ClientProfile(
        client=client,
        as_of=now,
        details=details,
        manager=await uow.staff.get(client.manager_id) if client.manager_id else None,
        holdings=tuple(await uow.profiles.holdings(client.id)),
        transactions=tuple(await ws.transactions(client.id, since=since)),
        contacts=tuple(await ws.contacts(client.id, since=since)),
        feedback=tuple(await ws.feedback(client.id)),
        invitations=tuple(await ws.invitations(client.id)),
        open_requests=tuple(await ws.open_requests(client.id)),
        meetings=tuple(await ws.meetings(client.id)),
        life_events=tuple(await uow.profiles.life_events(client.id)),
        notes=tuple(await uow.profiles.notes(client.id, limit=30)),
        group=group,
        public_peers=peers,
    )
