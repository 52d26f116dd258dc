"""Sync of what clients hold and live through: holdings and life events, by their CRM ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, delete, select

from crm_adapter import models as m
from crm_adapter.master.records import MasterHolding, MasterLifeEvent, Skipped, Stream
from crm_adapter.master.sync_base import (
    REF,
    SyncRun,
    insert_ids,
    link_refs,
    refs_of,
    skip,
    update_by_id,
)


class ItemsSync(SyncRun):
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
            clients = await refs_of(uow.session, "client")
            refs = await refs_of(uow.session, kind)
        async for chunk in read(since=self._since(stream)):
            skip(report, chunk.skipped)
            items: list[MasterHolding | MasterLifeEvent] = list(chunk.items)
            async with self.crm.unit_of_work() as uow:
                s = uow.session
                new: list[tuple[str, dict[str, Any]]] = []
                changes: list[dict[str, Any]] = []
                for item in items:
                    client = clients.get(item.client_remote_id)
                    if client is None:
                        skip(
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
                await update_by_id(s, table, changes)
                report.updated += len(changes)
                if new:
                    ids = await insert_ids(s, table, [values for _remote, values in new])
                    pairs = [(int(i), remote) for (remote, _v), i in zip(new, ids, strict=True)]
                    await link_refs(s, kind, pairs)
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
                await s.execute(delete(REF).where(REF.c.kind == kind, REF.c.local_id.in_(part)))
            await uow.commit()
        self.report[stream].removed += len(stale)
