"""A client's own settings: language, quiet hours, do-not-disturb, marketing, channel, data."""

from __future__ import annotations

from datetime import time
from typing import Any

from common.clock import Clock
from concierge.notify import Notifier
from concierge.requests import create_request
from crm_adapter.dto import Client, Messenger, ServiceRequest
from crm_adapter.port import PeopleUnit, UnitOfWork

# Quiet-hour presets offered as buttons (start, end) in the client's local time.
QUIET_PRESETS: dict[str, tuple[time, time]] = {
    "22-09": (time(22, 0), time(9, 0)),
    "23-08": (time(23, 0), time(8, 0)),
    "21-10": (time(21, 0), time(10, 0)),
    "off": (time(0, 0), time(0, 0)),
}
CHANNELS = ("messenger", "phone", "email")
LANGUAGES = ("ru", "en")
DATA_TASKS = ("export", "deletion")


async def change_preferences(
    uow: PeopleUnit, clock: Clock, *, client: Client, **changes: Any
) -> Client:
    """Applies validated changes and audits them; unknown values are a programming error."""
    if "language" in changes and changes["language"] not in LANGUAGES:
        raise ValueError(changes["language"])
    if "preferred_channel" in changes and changes["preferred_channel"] not in CHANNELS:
        raise ValueError(changes["preferred_channel"])
    updated = await uow.clients.update_preferences(client.id, **changes)
    if "language" in changes:
        link = await uow.links.for_client(client.id)
        if link is not None:
            # Every messenger the client linked: the language is the person's.
            await uow.links.set_language(link.id, changes["language"])
    await uow.audit.record(
        now=clock.now(),
        action="preferences_changed",
        actor_client_id=client.id,
        subject_client_id=client.id,
        details={k: str(v) for k, v in changes.items()},
    )
    return updated


async def prefer_messenger(
    uow: PeopleUnit, clock: Clock, *, client: Client, messenger: str
) -> bool:
    """Makes `messenger` where the bank's own messages (notifications, invitations) reach a
    client linked in several; audited. False when the client has no account there."""
    if messenger not in {m.value for m in Messenger}:
        raise ValueError(messenger)
    chosen = await uow.links.prefer(client.id, messenger)
    await uow.audit.record(
        now=clock.now(),
        action="preferences_changed",
        actor_client_id=client.id,
        subject_client_id=client.id,
        outcome="ok" if chosen else "denied",
        details={"preferred_messenger": messenger},
    )
    return chosen


async def set_quiet_hours(uow: PeopleUnit, clock: Clock, *, client: Client, preset: str) -> Client:
    start, end = QUIET_PRESETS[preset]
    return await change_preferences(uow, clock, client=client, quiet_start=start, quiet_end=end)


async def request_data_task(
    uow: UnitOfWork, notifier: Notifier, clock: Clock, *, client: Client, task: str
) -> ServiceRequest:
    """Export or deletion of personal data becomes a task for staff; nothing is deleted here."""
    if task not in DATA_TASKS:
        raise ValueError(task)
    receipt = await create_request(
        uow,
        notifier,
        clock,
        client=client,
        service_code=f"data_{task}",
        summary=f"152-FZ: data {task} requested by the client in the messenger",
    )
    return receipt.request
