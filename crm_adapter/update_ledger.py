"""Every update's own bookkeeping, in as few round trips as the engine allows.

Each update reads who is writing, claims its update id by logging the inbound interaction,
and after the handler logs the replies it caused. Run through an ORM session these three
were the largest share of a menu press in profiles of `bench.dispatch`, nearly all of it
per-statement machinery (session, connection checkout, greenlet hops, result objects), not
SQL. So here:

- On a SQLite file (our one-hop aiosqlite adapter) the ledger has a connection of its own,
  outside the pool, used on the event loop itself (`LoopConnection`: no thread hops, and
  neither a lock held by another process nor a checkpoint can stall the loop), and opening
  an update (read, claim, commit) is one job, as is logging the replies: SQL that
  SQLAlchemy compiled once from the same tables, with SQLAlchemy's own type conversions (UTC
  timestamps, JSON) applied on both sides, so the schema stays in `models/` and nothing is
  hand-written twice.
- On other engines (PostgreSQL) the same Core statements run on a pooled connection, without
  an ORM session.

None of them joins the handler's unit of work: the claim is committed before the handler
runs (a failing handler never erases what the person sent) and the replies after it (a lost
log line never undoes what the handler committed).

When the bank's own CRM is the master (`write_back`), each interaction of a client is also
queued for it (`crm_write`, see crm_adapter.master.queue) in the same transaction: on SQLite
one more INSERT … SELECT by primary key in the same job; on PostgreSQL the queue insert rides
in the same statement as a data-modifying CTE, so the claim stays one round trip.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from crm_adapter.port import UpdateLedger
from crm_adapter.sqlite_driver import OneHopDbapi, gate_for
from crm_adapter.update_ledger_core import CoreUpdateLedger
from crm_adapter.update_ledger_sqlite import SqliteUpdateLedger


def ledger_for(
    engine: AsyncEngine, *, write_back: bool = False, secure_delete: bool = True
) -> UpdateLedger:
    """The SQLite ledger for a database file under our adapter, else the Core one.

    `write_back`: clients' interactions are also queued for the bank's own CRM.
    `secure_delete`: as the engine's connections (sqlite_driver.apply_pragmas).
    """
    gate = gate_for(engine.url.database)
    if isinstance(engine.dialect.loaded_dbapi, OneHopDbapi) and gate is not None:
        return SqliteUpdateLedger(engine, gate, write_back=write_back, secure_delete=secure_delete)
    return CoreUpdateLedger(engine, write_back=write_back)
