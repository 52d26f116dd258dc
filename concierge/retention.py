"""Retention of the interaction log: old records are purged on the bank's schedule."""

from __future__ import annotations

from datetime import timedelta

from common.clock import Clock
from crm_adapter.port import ActivityUnit

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
