"""Retention: personal data in the logs and working records is purged on the bank's schedule.

Interactions are deleted; notes, closed requests and their comments, relay mappings, audit
details, finished outbox messages, feedback comments, past meetings' topics and past events'
invitation notes are emptied or deleted by the CRM's rules
(`crm_adapter.personal_data.PersonalDataRepository.purge_before`). The client's profile lives
as long as the relationship and goes with an erasure (`concierge.data_rights`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from common.clock import Clock
from crm_adapter.port import ActivityUnit, PersonalDataUnit

# The unique update_id of logged inbound updates is the durable guard against Telegram's
# redeliveries, which stop after 24 hours; a shorter retention would reopen that window.
MIN_RETENTION = timedelta(days=1)


async def purge_interactions(uow: ActivityUnit, clock: Clock, older_than: timedelta) -> int:
    """Deletes interactions that happened before now - `older_than`; returns how many.

    The caller commits, so a purge is one transaction with whatever else it does.
    """
    if older_than < MIN_RETENTION:
        raise ValueError(f"interactions must be kept at least {MIN_RETENTION}")
    return await uow.interactions.purge_before(clock.now() - older_than)


class RetentionUnit(ActivityUnit, PersonalDataUnit, Protocol):
    """The interaction log and every other table with personal data."""


async def purge_personal_data(
    uow: RetentionUnit,
    clock: Clock,
    older_than: timedelta,
    *,
    relay_window: timedelta | None = None,
) -> dict[str, int]:
    """Purges every table that holds personal data past `older_than`; rows per table.

    Relay mappings go once they can no longer be answered (`relay_window`), which is sooner.
    The caller commits.
    """
    purged = {"interaction": await purge_interactions(uow, clock, older_than)}
    now = clock.now()
    relay_before = now - relay_window if relay_window is not None else None
    purged.update(
        await uow.personal_data.purge_before(now - older_than, relay_before=relay_before)
    )
    return purged
