"""What every part of a sync shares: its report, its cursors, and the set-based writes
(crm_adapter.master.sync is the entry point)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from crm_adapter import models as m
from crm_adapter.master.port import MasterCrm
from crm_adapter.master.records import Skipped, Stream
from crm_adapter.sql import SqlCrm

log = logging.getLogger("crm_adapter.master.sync")

CURSORS = "sync.cursors"
CLIENT = cast(Table, m.ClientRow.__table__)
STAFF = cast(Table, m.StaffRow.__table__)
REF = cast(Table, m.CrmRefRow.__table__)
# Column widths of the store (names, ids) a master value must fit.
WIDTH = {
    "external_id": 32,
    "first_name": 100,
    "middle_name": 100,
    "last_name": 100,
    "city": 100,
    "occupation": 200,
    "full_name": 200,
    "email": 200,
    "timezone": 64,
    "financial_segment": 32,
    "values_segment": 32,
}
# Client columns the CRM owns; the others are the assistant's (see the module docstring).
MASTER_CLIENT_FIELDS = (
    "external_id",
    "first_name",
    "middle_name",
    "last_name",
    "birthday",
    "gender",
    "city",
    "financial_segment",
    "values_segment",
    "occupation",
    "client_since",
)

# (stream, records applied in this chunk, total records in the stream when known)
Progress = Callable[[str, int, int | None], None]


@dataclass
class StreamReport:
    created: int = 0
    updated: int = 0
    removed: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "removed": self.removed,
            "skipped": self.skipped,
        }


@dataclass
class SyncReport:
    full: bool
    streams: dict[Stream, StreamReport] = field(
        default_factory=lambda: {s: StreamReport() for s in Stream}
    )
    seconds: float = 0.0

    def __getitem__(self, stream: Stream) -> StreamReport:
        return self.streams[stream]

    def as_dict(self) -> dict[str, Any]:
        return {
            "full": self.full,
            "seconds": round(self.seconds, 2),
            **{s.value: r.as_dict() for s, r in self.streams.items()},
        }


def skip(report: StreamReport, skipped: Iterable[Skipped]) -> None:
    for record in skipped:
        record.log()
        report.skipped += 1


def too_wide(values: dict[str, Any]) -> str | None:
    for name, width in WIDTH.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > width:
            return name
    return None


async def refs_of(session: AsyncSession, kind: str) -> dict[str, int]:
    """CRM id -> local id of every record of `kind` the store has linked."""
    rows = await session.execute(select(REF.c.remote_id, REF.c.local_id).where(REF.c.kind == kind))
    return {str(remote): int(local) for remote, local in rows}


async def link_refs(session: AsyncSession, kind: str, pairs: Sequence[tuple[int, str]]) -> None:
    if pairs:
        await session.execute(
            insert(REF),
            [{"kind": kind, "local_id": local, "remote_id": remote} for local, remote in pairs],
        )


async def insert_ids(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Inserts `rows`; their new ids, in order.

    PostgreSQL returns them from one multi-row statement. SQLite cannot promise the order of
    a multi-row RETURNING, so SQLAlchemy would send the rows one statement at a time (a
    10,000-client sync spent most of its time so): instead the rows go in one executemany,
    and as this transaction holds the write lock they took consecutive rowids ending at the
    connection's last one.
    """
    if session.get_bind().dialect.name != "sqlite":
        inserted = await session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        )
        return [int(i) for i in inserted.scalars().all()]
    await session.execute(insert(table), rows)
    last = int(await session.scalar(text("SELECT last_insert_rowid()")) or 0)
    ids = list(range(last - len(rows) + 1, last + 1))
    count = await session.scalar(
        select(func.count()).select_from(table).where(table.c.id.between(ids[0], ids[-1]))
    )
    assert count == len(rows), "rowids of one executemany were not consecutive"
    return ids


def by_shape(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by their keys, so each group is one executemany."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


async def update_by_id(s: AsyncSession, table: Table, changes: list[dict[str, Any]]) -> None:
    """Writes `changes` (each the new values of the row whose id is its `_id`) in one
    executemany per set of columns changed."""
    for group in by_shape(changes):
        await s.execute(
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({k: bindparam(k) for k in group[0] if k != "_id"}),
            group,
        )


class SyncRun:
    """The state of one run, shared by its parts (people, holdings and life events)."""

    def __init__(
        self, crm: SqlCrm, master: MasterCrm, clock: Clock, *, full: bool, progress: Progress
    ) -> None:
        self.crm = crm
        self.master = master
        self.clock = clock
        self.full = full
        self.progress = progress
        self.report = SyncReport(full=full)
        self.cursors: dict[str, str] = {}
        self.moved: dict[str, datetime] = {}

    def _since(self, stream: Stream) -> datetime | None:
        if self.full or stream.value not in self.cursors:
            return None
        return datetime.fromisoformat(self.cursors[stream.value])

    def _seen(self, stream: Stream, moments: Iterable[datetime | None]) -> None:
        latest = max((t for t in moments if t is not None), default=None)
        known = self.moved.get(stream.value)
        if latest is not None and (known is None or latest > known):
            self.moved[stream.value] = latest
