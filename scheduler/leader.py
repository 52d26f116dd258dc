"""Leader election so exactly one scheduler is active: advisory lock or a lease row.

The lock classes are shared with the knowledge base's ingestion lock (`crm_adapter.locks`);
this module names the scheduler's lock and picks the right kind for the database.
"""

from __future__ import annotations

from datetime import timedelta

from common.clock import Clock
from crm_adapter.locks import LeaseRowLock, NamedLock, PostgresAdvisoryLock, named_lock_for
from crm_adapter.sql import SqlCrm

LOCK_NAME = "vip-concierge:scheduler"

# The scheduler holds its lock for as long as it leads; the protocol is the same.
LeaderLock = NamedLock

__all__ = ["LOCK_NAME", "LeaderLock", "LeaseRowLock", "PostgresAdvisoryLock", "leader_lock_for"]


def leader_lock_for(
    crm: SqlCrm, owner_id: str, clock: Clock, *, heartbeat: timedelta = timedelta(seconds=10)
) -> LeaderLock:
    """The advisory lock on PostgreSQL, the lease row elsewhere.

    The lease must outlive a few missed heartbeats, or a leader slowed down by one long
    job-store write would lose it to a standby while still running jobs; it never gets
    shorter than the 30 s it has always had.
    """
    ttl = max(timedelta(seconds=30), heartbeat * 3)
    return named_lock_for(crm, LOCK_NAME, owner=owner_id, clock=clock, ttl=ttl)
