"""Sync of people: staff (roles, backups, leavers), clients (the manager, removals)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_adapter import models as m
from crm_adapter.client_desk import OPEN_STATUSES, SqlServiceRequestRepository
from crm_adapter.master.records import MasterClient, MasterStaff, Skipped, Stream
from crm_adapter.master.sync_base import (
    CLIENT,
    MASTER_CLIENT_FIELDS,
    STAFF,
    SyncRun,
    insert_ids,
    link_refs,
    log,
    refs_of,
    skip,
    too_wide,
    update_by_id,
)

REQUEST = cast(Table, m.ServiceRequestRow.__table__)


class PeopleSync(SyncRun):
    # -- staff -----------------------------------------------------------------------------

    async def _staff(self) -> None:
        report = self.report[Stream.STAFF]
        people: list[MasterStaff] = []
        async for chunk in self.master.staff():
            people.extend(chunk.items)
            skip(report, chunk.skipped)
        async with self.crm.unit_of_work() as uow:
            s = uow.session
            refs = await refs_of(s, "staff")
            by_external = {
                str(e): int(i) for e, i in await s.execute(select(STAFF.c.external_id, STAFF.c.id))
            }
            linked: list[tuple[int, str]] = []
            for person in people:
                local = await self._upsert_staff(s, person, refs, by_external)
                if local is not None and person.remote_id not in refs:
                    linked.append((local, person.remote_id))
                    refs[person.remote_id] = local
            await link_refs(s, "staff", linked)
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
        if (wide := too_wide({**values, "external_id": person.external_id})) is not None:
            problem = ("too_long", wide)
        local = refs.get(person.remote_id)
        if local is None and problem is None:
            local = by_external.get(person.external_id)
            if local is not None and local in refs.values():
                problem = ("duplicate_external_id", "XML_ID")
        if problem is not None:
            skip(report, [Skipped(Stream.STAFF, person.remote_id, *problem)])
            return None
        if local is None:
            statement = insert(STAFF).values(external_id=person.external_id, **values)
            local = int(await s.scalar(statement.returning(STAFF.c.id)) or 0)
            report.created += 1
        else:
            await s.execute(update(STAFF).where(STAFF.c.id == local).values(**values))
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
                skip(report, [problem])
            await s.execute(update(STAFF).where(STAFF.c.id == local).values(backup_id=backup))
        listed = {p.remote_id for p in people}
        gone = [local for remote, local in refs.items() if remote not in listed]
        if gone:
            result = await s.execute(
                update(STAFF)
                .where(STAFF.c.id.in_(gone), STAFF.c.active.is_(True))
                .values(active=False)
            )
            report.removed += int(result.rowcount)  # type: ignore[attr-defined]

    # -- clients ---------------------------------------------------------------------------

    async def _clients(self) -> set[str] | None:
        """Applies changed clients; returns every client id the CRM listed (full sync only)."""
        report = self.report[Stream.CLIENTS]
        listed: set[str] | None = set() if self.full else None
        async with self.crm.unit_of_work() as uow:
            refs = await refs_of(uow.session, "client")
            staff = await refs_of(uow.session, "staff")
            rows = await uow.session.execute(select(CLIENT.c.external_id, CLIENT.c.id))
            by_external = {str(e): int(i) for e, i in rows}
        claimed: dict[str, str] = {}
        async for chunk in self.master.clients(since=self._since(Stream.CLIENTS)):
            if listed is not None:
                listed.update(c.remote_id for c in chunk.items)
                listed.update(s.remote_id for s in chunk.skipped)
            skip(report, chunk.skipped)
            async with self.crm.unit_of_work() as uow:
                await self._apply_clients(
                    uow.session, chunk.items, refs, staff, by_external, claimed
                )
                await uow.commit()
            self._seen(Stream.CLIENTS, (c.modified_at for c in chunk.items))
            self.progress(Stream.CLIENTS.value, len(chunk.items) + len(chunk.skipped), chunk.total)
        return listed

    def _client_values(self, client: MasterClient) -> dict[str, Any]:
        return {name: getattr(client, name) for name in MASTER_CLIENT_FIELDS}

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
        await link_refs(s, "client", linked)

    def _checked_client(
        self, client: MasterClient, staff: dict[str, int], claimed: dict[str, str]
    ) -> dict[str, Any] | None:
        """The store's values of a master client, or None (logged) when it cannot take it."""
        values = self._client_values(client)
        manager = staff.get(client.manager_remote_id) if client.manager_remote_id else None
        problem: tuple[str, str] | None = None
        if manager is None:
            problem = ("unknown_manager", "ASSIGNED_BY_ID")
        elif (wide := too_wide(values)) is not None:
            problem = ("too_long", wide)
        elif claimed.setdefault(client.external_id, client.remote_id) != client.remote_id:
            problem = ("duplicate_client_id", "client_id")
        if problem is not None:
            skipped = Skipped(Stream.CLIENTS, client.remote_id, *problem)
            skip(self.report[Stream.CLIENTS], [skipped])
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
        rows = await s.execute(select(CLIENT).where(CLIENT.c.id.in_(list(wanted))))
        existing = {row.id: row for row in rows}
        changes: list[dict[str, Any]] = []
        linked: list[tuple[int, str]] = []
        reassigned: list[tuple[int, int, int]] = []
        for local, (client, values) in wanted.items():
            row = existing.get(local)
            if row is None:
                continue
            if row.manager_id != values["manager_id"]:
                values["previous_manager_id"] = row.manager_id
                values["manager_since"] = today
                if row.manager_id is not None:
                    reassigned.append((local, row.manager_id, values["manager_id"]))
            values["crm_removed_at"] = None
            if any(getattr(row, k) != v for k, v in values.items()):
                changes.append({"_id": local, **values})
            if client.remote_id not in refs:
                linked.append((local, client.remote_id))
                refs[client.remote_id] = local
        await update_by_id(s, CLIENT, changes)
        self.report[Stream.CLIENTS].updated += len(changes)
        await self._hand_over_open_requests(s, reassigned)
        return linked

    async def _hand_over_open_requests(
        self, s: AsyncSession, reassigned: list[tuple[int, int, int]]
    ) -> None:
        """Open requests the previous manager was working on go to the new one: an assignee
        may act on a request and hears the client's comments, and a manager the CRM took
        the client from must do neither. (Closed requests keep who did them.)"""
        if not reassigned:
            return
        requests = SqlServiceRequestRepository(s, write_back=self.crm.write_back)
        for client_id, previous, new in reassigned:
            ids = await s.scalars(
                select(REQUEST.c.id).where(
                    REQUEST.c.client_id == client_id,
                    REQUEST.c.assignee_id == previous,
                    REQUEST.c.status.in_(OPEN_STATUSES),
                )
            )
            for request_id in ids.all():
                await requests.update(request_id, assignee_id=new)

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
        inserted = await insert_ids(s, CLIENT, rows)
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
            refs = await refs_of(uow.session, "client")
            active = set(
                (
                    await uow.session.scalars(
                        select(CLIENT.c.id).where(CLIENT.c.crm_removed_at.is_(None))
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
                select(CLIENT.c.id, CLIENT.c.manager_id).where(CLIENT.c.id.in_(gone))
            )
            await uow.session.execute(
                update(CLIENT)
                .where(CLIENT.c.id == bindparam("_id"))
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
