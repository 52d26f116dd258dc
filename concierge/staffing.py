"""Who answers for a client right now: the manager, the backup, the duty desk, by working hours."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from crm_adapter.dto import Client, Role, Staff
from crm_adapter.port import PeopleUnit

# Escalation levels of an urgent request, in order.
MANAGER_LEVEL, BACKUP_LEVEL, DUTY_LEVEL = 0, 1, 2


def is_working(staff: Staff, now: datetime) -> bool:
    """Present and inside working hours in the staff member's own time zone."""
    if staff.absent or not staff.active:
        return False
    local = now.astimezone(ZoneInfo(staff.timezone)).time()
    if staff.work_start <= staff.work_end:
        return staff.work_start <= local < staff.work_end
    # A night shift crosses midnight (e.g. 20:00-08:00).
    return local >= staff.work_start or local < staff.work_end


def first_level(
    chain: list[list[Staff]], now: datetime, *, start: int = 0, respect_hours: bool
) -> int:
    """The first level from `start` with someone reachable; the duty desk is always on call."""
    for level in range(start, DUTY_LEVEL):
        people = chain[level]
        if people and all(is_working(p, now) if respect_hours else not p.absent for p in people):
            return level
    return DUTY_LEVEL


async def reachable(
    uow: PeopleUnit, client: Client, now: datetime, *, start: int = 0, respect_hours: bool
) -> tuple[int, list[Staff]]:
    """(level, people) of the first reachable level from `start`, as `first_level` decides.

    The duty desk is read only when the request gets that far: most messages stop at the
    manager, and the duty roster is the one level that needs a search over all staff.
    """
    manager = await uow.staff.get(client.manager_id) if client.manager_id else None
    backup = await uow.staff.get(manager.backup_id) if manager and manager.backup_id else None
    chain: list[list[Staff]] = [
        [manager] if manager and manager.active else [],
        [backup] if backup and backup.active else [],
        [],
    ]
    level = first_level(chain, now, start=start, respect_hours=respect_hours)
    if level == DUTY_LEVEL:
        return level, await uow.staff.with_role(Role.DUTY)
    return level, chain[level]


async def answering_in_turn(
    uow: PeopleUnit,
    client: Client,
    now: datetime,
    *,
    start: int = MANAGER_LEVEL,
    respect_hours: bool = True,
) -> list[tuple[int, Staff]]:
    """(level, person) of everyone who may take the client's message now, first to last:
    the first reachable level (`reachable`), then each later level with someone working, the
    duty desk last (always on call). A live message that cannot reach one person's messenger
    goes to the next, so the client's words are never left with someone who cannot read them.

    `start` skips the levels before it; without `respect_hours` a level counts whenever its
    people are present (a request that is not urgent waits for the manager's morning)."""
    turn: list[tuple[int, Staff]] = []
    level = start
    while True:
        level, people = await reachable(uow, client, now, start=level, respect_hours=respect_hours)
        turn += [(level, person) for person in people]
        if level == DUTY_LEVEL:
            return turn
        level += 1


async def can_be_told(uow: PeopleUnit, staff: Staff) -> bool:
    """Whether a message can reach the staff member now: a linked messenger account that has
    not refused the bot (`links.for_staff` offers a working one first)."""
    link = await uow.links.for_staff(staff.id)
    return link is not None and link.blocked_at is None


async def told_in_turn(
    uow: PeopleUnit,
    client: Client,
    now: datetime,
    *,
    start: int = MANAGER_LEVEL,
    respect_hours: bool,
) -> tuple[int, list[Staff]]:
    """(level, people) who take a new request for the client: the first level in
    `answering_in_turn` with someone who `can_be_told`, and those of its people who can.

    A manager with no linked account, or one that blocked the bot, would hold the request
    unseen until it escalated; the relay passes over the same people. When no one's
    messenger can be told, the duty desk holds it all the same (it waits in their queue),
    or, with no duty desk, the first in turn."""
    turn = await answering_in_turn(uow, client, now, start=start, respect_hours=respect_hours)
    told: list[Staff] = []
    told_level = DUTY_LEVEL
    for level, person in turn:
        if told and level != told_level:
            break
        if await can_be_told(uow, person):
            told_level = level
            told.append(person)
    if told:
        return told_level, told
    duty = [person for level, person in turn if level == DUTY_LEVEL]
    if duty or not turn:
        return DUTY_LEVEL, duty
    # A bank with no duty roster: the first in turn keeps it, as before, not no one.
    level, first = turn[0]
    return level, [first]
