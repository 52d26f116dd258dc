"""Sync in: the bank's CRM (the master) into the local store, which serves from it.

Master data (names, birthday, segments, the personal manager, roles, holdings, life events)
is taken as the CRM has it, over whatever the store held: conflicts go the CRM's way. What the
assistant owns stays: consent records, the client's own preferences (language, time zone,
quiet hours, marketing opt-out), interactions, requests, notes. A client the CRM no longer
has is marked `crm_removed_at` and loses the manager, so access rules change with the sync
that sees it; a reassignment likewise moves the client card to the new manager at once.

A record the store cannot take (a missing field, a manager the CRM does not have among the
VIP staff, a holding of an unknown client) is skipped with a log line of ids and a reason
code, never values, and the sync goes on.

Each chunk of a stream is applied in its own transaction; cursors move only when the whole
run succeeded, so an interrupted sync is simply run again (applying a record twice changes
nothing).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from crm_adapter import models as m
from crm_adapter.master.port import MasterCrm
from crm_adapter.master.records import (
    MasterClient,
    MasterHolding,
    MasterLifeEvent,
    MasterStaff,
    Skipped,
    Stream,
)
from crm_adapter.master.state import read_state, write_state
from crm_adapter.sql import SqlCrm

log = logging.getLogger(__name__)

CURSORS = "sync.cursors"
_CLIENT = cast(Table, m.ClientRow.__table__)
_STAFF = cast(Table, m.StaffRow.__table__)
_REF = cast(Table, m.CrmRefRow.__table__)
# Column widths of the store (names, ids) a master value must fit.
_WIDTH = {
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
_MASTER_CLIENT_FIELDS = (
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


def _skip(report: StreamReport, skipped: Iterable[Skipped]) -> None:
    for record in skipped:
        record.log()
        report.skipped += 1


def _too_wide(values: dict[str, Any]) -> str | None:
    for name, width in _WIDTH.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > width:
            return name
    return None


async def _refs(session: AsyncSession, kind: str) -> dict[str, int]:
    """CRM id -> local id of every record of `kind` the store has linked."""
    rows = await session.execute(
        select(_REF.c.remote_id, _REF.c.local_id).where(_REF.c.kind == kind)
    )
    return {str(remote): int(local) for remote, local in rows}


async def _link(session: AsyncSession, kind: str, pairs: Sequence[tuple[int, str]]) -> None:
    if pairs:
        await session.execute(
            insert(_REF),
            [{"kind": kind, "local_id": local, "remote_id": remote} for local, remote in pairs],
        )


class Sync:
    """One run; `sync_from_master` is the entry point."""

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

    async def run(self) -> SyncReport:
        started = time.perf_counter()
        async with self.crm.unit_of_work() as uow:
            self.cursors = dict(await read_state(uow.session, CURSORS) or {})
        await self._staff()
        present = await self._clients()
        await self._removals(present)
        await self._holdings()
        await self._life_events()
        async with self.crm.unit_of_work() as uow:
            cursors = {**self.cursors, **{k: v.isoformat() for k, v in self.moved.items()}}
            await write_state(uow.session, CURSORS, cursors, now=self.clock.now())
            await uow.commit()
        self.report.seconds = time.perf_counter() - started
        log.info("crm sync done", extra={"crm_sync": self.report.as_dict()})
        return self.report

    # -- staff -----------------------------------------------------------------------------

    async def _staff(self) -> None:
        report = self.report[Stream.STAFF]
        people: list[MasterStaff] = []
        async for chunk in self.master.staff():
            people.extend(chunk.items)
            _skip(report, chunk.skipped)
        async with self.crm.unit_of_work() as uow:
            s = uow.session
            refs = await _refs(s, "staff")
            by_external = {
                str(e): int(i)
                for e, i in await s.execute(select(_STAFF.c.external_id, _STAFF.c.id))
            }
            linked: list[tuple[int, str]] = []
            for person in people:
                local = await self._upsert_staff(s, person, refs, by_external)
                if local is not None and person.remote_id not in refs:
                    linked.append((local, person.remote_id))
                    refs[person.remote_id] = local
            await _link(s, "staff", linked)
            await self._backups_and_leavers(s, people, refs)
            await uow.commit()
        self.progress(Stream.STAFF.value, len(people), len(people))

    async def _upsert_staff(
        self,
        s: AsyncSession,
        person: MasterStaff,
        refs: dict[str, int],
        by_external: dict[str, int],
    ) -> int | None:
        report = self.report[Stream.STAFF]
        values: dict[str, Any] = {
            "full_name": person.full_name,
            "roles": ",".join(sorted(person.roles)),
            "active": person.active,
            "email": person.email,
            "phone": person.phone,
        }
        if person.timezone:
            values["timezone"] = person.timezone
        problem: tuple[str, str] | None = None
        if (wide := _too_wide({**values, "external_id": person.external_id})) is not None:
            problem = ("too_long", wide)
        local = refs.get(person.remote_id)
        if local is None and problem is None:
            local = by_external.get(person.external_id)
            if local is not None and local in refs.values():
                problem = ("duplicate_external_id", "XML_ID")
        if problem is not None:
            _skip(report, [Skipped(Stream.STAFF, person.remote_id, *problem)])
            return None
        if local is None:
            statement = insert(_STAFF).values(external_id=person.external_id, **values)
            local = int(await s.scalar(statement.returning(_STAFF.c.id)) or 0)
            report.created += 1
        else:
            await s.execute(update(_STAFF).where(_STAFF.c.id == local).values(**values))
            report.updated += 1
        return local

    async def _backups_and_leavers(
        self, s: AsyncSession, people: list[MasterStaff], refs: dict[str, int]
    ) -> None:
        """Backups point at staff, so they are set once everyone is in; users the CRM no
        longer lists among the VIP staff lose their access."""
        report = self.report[Stream.STAFF]
        for person in people:
            local = refs.get(person.remote_id)
            if local is None:
                continue
            backup = refs.get(person.backup_remote_id) if person.backup_remote_id else None
            if person.backup_remote_id and backup is None:
                problem = Skipped(Stream.STAFF, person.remote_id, "unknown_backup", "backup")
                _skip(report, [problem])
            await s.execute(update(_STAFF).where(_STAFF.c.id == local).values(backup_id=backup))
        listed = {p.remote_id for p in people}
        gone = [local for remote, local in refs.items() if remote not in listed]
        if gone:
            result = await s.execute(
                update(_STAFF)
                .where(_STAFF.c.id.in_(gone), _STAFF.c.active.is_(True))
                .values(active=False)
            )
            report.removed += int(result.rowcount)  # type: ignore[attr-defined]

    # -- clients ---------------------------------------------------------------------------

    async def _clients(self) -> set[str] | None:
        """Applies changed clients; returns every client id the CRM listed (full sync only)."""
        report = self.report[Stream.CLIENTS]
        listed: set[str] | None = set() if self.full else None
        async with self.crm.unit_of_work() as uow:
            refs = await _refs(uow.session, "client")
            staff = await _refs(uow.session, "staff")
            rows = await uow.session.execute(select(_CLIENT.c.external_id, _CLIENT.c.id))
            by_external = {str(e): int(i) for e, i in rows}
        claimed: dict[str, str] = {}
        async for chunk in self.master.clients(since=self._since(Stream.CLIENTS)):
            if listed is not None:
                listed.update(c.remote_id for c in chunk.items)
                listed.update(s.remote_id for s in chunk.skipped)
            _skip(report, chunk.skipped)
            async with self.crm.unit_of_work() as uow:
                await self._apply_clients(
                    uow.session, chunk.items, refs, staff, by_external, claimed
                )
                await uow.commit()
            self._seen(Stream.CLIENTS, (c.modified_at for c in chunk.items))
            self.progress(Stream.CLIENTS.value, len(chunk.items) + len(chunk.skipped), chunk.total)
        return listed

    def _client_values(self, client: MasterClient) -> dict[str, Any]:
        return {name: getattr(client, name) for name in _MASTER_CLIENT_FIELDS}

    async def _apply_clients(
        self,
        s: AsyncSession,
        clients: Sequence[MasterClient],
        refs: dict[str, int],
        staff: dict[str, int],
        by_external: dict[str, int],
        claimed: dict[str, str],
    ) -> None:
        wanted: dict[int, tuple[MasterClient, dict[str, Any]]] = {}
        new: list[tuple[MasterClient, dict[str, Any]]] = []
        for client in clients:
            values = self._checked_client(client, staff, claimed)
            if values is None:
                continue
            local = refs.get(client.remote_id, by_external.get(client.external_id))
            if local is None:
                new.append((client, values))
            else:
                wanted[local] = (client, values)
        linked = await self._update_clients(s, wanted, refs)
        linked += await self._insert_clients(s, new, refs, by_external)
        await _link(s, "client", linked)

    def _checked_client(
        self, client: MasterClient, staff: dict[str, int], claimed: dict[str, str]
    ) -> dict[str, Any] | None:
        """The store's values of a master client, or None (logged) when it cannot take it."""
        values = self._client_values(client)
        manager = staff.get(client.manager_remote_id) if client.manager_remote_id else None
        problem: tuple[str, str] | None = None
        if manager is None:
            problem = ("unknown_manager", "ASSIGNED_BY_ID")
        elif (wide := _too_wide(values)) is not None:
            problem = ("too_long", wide)
        elif claimed.setdefault(client.external_id, client.remote_id) != client.remote_id:
            problem = ("duplicate_client_id", "client_id")
        if problem is not None:
            skipped = Skipped(Stream.CLIENTS, client.remote_id, *problem)
            _skip(self.report[Stream.CLIENTS], [skipped])
            return None
        values["manager_id"] = manager
        return values

    async def _update_clients(
        self,
        s: AsyncSession,
        wanted: dict[int, tuple[MasterClient, dict[str, Any]]],
        refs: dict[str, int],
    ) -> list[tuple[int, str]]:
        if not wanted:
            return []
        today = self.clock.now().date()
        rows = await s.execute(select(_CLIENT).where(_CLIENT.c.id.in_(list(wanted))))
        existing = {row.id: row for row in rows}
        changes: list[dict[str, Any]] = []
        linked: list[tuple[int, str]] = []
        for local, (client, values) in wanted.items():
            row = existing.get(local)
            if row is None:
                continue
            if row.manager_id != values["manager_id"]:
                values["previous_manager_id"] = row.manager_id
                values["manager_since"] = today
            values["crm_removed_at"] = None
            if any(getattr(row, k) != v for k, v in values.items()):
                changes.append({"_id": local, **values})
            if client.remote_id not in refs:
                linked.append((local, client.remote_id))
                refs[client.remote_id] = local
        for group in _by_shape(changes):
            await s.execute(
                update(_CLIENT)
                .where(_CLIENT.c.id == bindparam("_id"))
                .values({k: bindparam(k) for k in group[0] if k != "_id"}),
                group,
            )
        self.report[Stream.CLIENTS].updated += len(changes)
        return linked

    async def _insert_clients(
        self,
        s: AsyncSession,
        new: list[tuple[MasterClient, dict[str, Any]]],
        refs: dict[str, int],
        by_external: dict[str, int],
    ) -> list[tuple[int, str]]:
        if not new:
            return []
        today = self.clock.now().date()
        rows = [
            {
                **values,
                # The client's own settings from then on (see the module docstring).
                "language": client.language or "ru",
                "timezone": client.timezone or "Europe/Moscow",
                "manager_since": today,
            }
            for client, values in new
        ]
        inserted = await _insert_ids(s, _CLIENT, rows)
        linked: list[tuple[int, str]] = []
        for (client, values), local in zip(new, inserted, strict=True):
            refs[client.remote_id] = int(local)
            by_external[values["external_id"]] = int(local)
            linked.append((int(local), client.remote_id))
        self.report[Stream.CLIENTS].created += len(new)
        return linked

    async def _removals(self, listed: set[str] | None) -> None:
        """Clients the CRM no longer has: every id it lists now against those the store has
        linked; each missing one confirmed by asking for it, then taken out of service."""
        report = self.report[Stream.CLIENTS]
        if listed is None:
            listed = await self.master.client_ids()
        async with self.crm.unit_of_work() as uow:
            refs = await _refs(uow.session, "client")
            active = set(
                (
                    await uow.session.scalars(
                        select(_CLIENT.c.id).where(_CLIENT.c.crm_removed_at.is_(None))
                    )
                ).all()
            )
        missing = {r for r, local in refs.items() if r not in listed and local in active}
        if not missing or not self.master.reads_master_data:
            return
        absent = await self.master.clients_absent(missing)
        if not absent:
            return
        gone = [refs[r] for r in absent]
        now = self.clock.now()
        async with self.crm.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(_CLIENT.c.id, _CLIENT.c.manager_id).where(_CLIENT.c.id.in_(gone))
            )
            await uow.session.execute(
                update(_CLIENT)
                .where(_CLIENT.c.id == bindparam("_id"))
                .values(
                    crm_removed_at=now,
                    manager_id=None,
                    previous_manager_id=bindparam("previous"),
                ),
                [{"_id": i, "previous": manager} for i, manager in rows],
            )
            await uow.commit()
        report.removed += len(gone)
        log.info("crm sync: %d clients removed in the CRM taken out of service", len(gone))

    # -- holdings and life events ----------------------------------------------------------

    async def _holdings(self) -> None:
        await self._items(
            Stream.HOLDINGS,
            "holding",
            m.ProductHoldingRow,
            self.master.holdings,
            lambda h: {
                "product_type": h.product_type[:32],
                "name": h.name[:200],
                "balance": h.balance,
                "currency": h.currency,
                "rate_percent": h.rate_percent,
                "opened_on": h.opened_on,
                "matures_on": h.matures_on,
                "expires_on": h.expires_on,
                "status": h.status[:16],
            },
        )

    async def _life_events(self) -> None:
        now = self.clock.now()
        await self._items(
            Stream.LIFE_EVENTS,
            "life_event",
            m.LifeEventRow,
            self.master.life_events,
            lambda e: {
                "kind": e.kind[:48],
                "happened_on": e.happened_on,
                "description": e.description,
                "recorded_at": now,
            },
        )

    async def _items(
        self,
        stream: Stream,
        kind: str,
        model: Any,
        read: Callable[..., Any],
        values_of: Callable[[Any], dict[str, Any]],
    ) -> None:
        """Holdings and life events alike: upserted by their CRM id; in a full sync, the ones
        of linked clients that the CRM no longer lists are deleted."""
        report = self.report[stream]
        table = cast(Table, model.__table__)
        seen: set[int] = set()
        async with self.crm.unit_of_work() as uow:
            clients = await _refs(uow.session, "client")
            refs = await _refs(uow.session, kind)
        async for chunk in read(since=self._since(stream)):
            _skip(report, chunk.skipped)
            items: list[MasterHolding | MasterLifeEvent] = list(chunk.items)
            async with self.crm.unit_of_work() as uow:
                s = uow.session
                new: list[tuple[str, dict[str, Any]]] = []
                changes: list[dict[str, Any]] = []
                for item in items:
                    client = clients.get(item.client_remote_id)
                    if client is None:
                        _skip(
                            report,
                            [Skipped(stream, item.remote_id, "unknown_client", "contactId")],
                        )
                        continue
                    values = {"client_id": client, **values_of(item)}
                    local = refs.get(item.remote_id)
                    if local is None:
                        new.append((item.remote_id, values))
                    else:
                        seen.add(local)
                        changes.append({"_id": local, **values})
                for batch in _by_shape(changes):
                    await s.execute(
                        update(table)
                        .where(table.c.id == bindparam("_id"))
                        .values({k: bindparam(k) for k in batch[0] if k != "_id"}),
                        batch,
                    )
                report.updated += len(changes)
                if new:
                    ids = await _insert_ids(s, table, [values for _remote, values in new])
                    pairs = [(int(i), remote) for (remote, _v), i in zip(new, ids, strict=True)]
                    await _link(s, kind, pairs)
                    for local, remote in pairs:
                        refs[remote] = local
                        seen.add(local)
                    report.created += len(new)
                await uow.commit()
            self._seen(stream, (i.modified_at for i in items))
            self.progress(stream.value, len(chunk.items) + len(chunk.skipped), chunk.total)
        if self.full and self.master.reads_master_data:
            await self._prune(stream, kind, table, seen, set(clients.values()))

    async def _prune(
        self, stream: Stream, kind: str, table: Table, seen: set[int], linked: set[int]
    ) -> None:
        """After a full listing: what linked clients hold locally but the CRM did not list."""
        async with self.crm.unit_of_work() as uow:
            s = uow.session
            rows = await s.execute(select(table.c.id, table.c.client_id))
            stale = [i for i, client in rows if client in linked and i not in seen]
            for start in range(0, len(stale), 500):
                part = stale[start : start + 500]
                await s.execute(delete(table).where(table.c.id.in_(part)))
                await s.execute(delete(_REF).where(_REF.c.kind == kind, _REF.c.local_id.in_(part)))
            await uow.commit()
        self.report[stream].removed += len(stale)


async def _insert_ids(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]]
) -> list[int]:
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


def _by_shape(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by their keys, so each group is one executemany."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


async def sync_from_master(
    crm: SqlCrm,
    master: MasterCrm,
    clock: Clock,
    *,
    full: bool = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Reads what the CRM changed (all of it with `full`) into the store; see the module."""
    return await Sync(crm, master, clock, full=full, progress=progress or _quiet).run()


def _quiet(_stream: str, _count: int, _total: int | None) -> None:
    return None
