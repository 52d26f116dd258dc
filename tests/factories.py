"""Test data factories: a minimal bank with a manager, a backup, a duty officer and clients;
messages in its interaction log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from crm_adapter import models as m
from crm_adapter.port import UnitOfWork
from crm_adapter.sql import SqlCrm


@dataclass(frozen=True)
class MiniBank:
    manager_id: int
    backup_id: int
    duty_id: int
    coordinator_id: int
    admin_id: int
    client_id: int
    other_client_id: int


async def make_bank(crm: SqlCrm) -> MiniBank:
    async with crm.unit_of_work() as uow:
        s = uow.session
        duty = m.StaffRow(external_id="S-DUTY", full_name="Дежурная служба", roles="duty")
        backup = m.StaffRow(external_id="S-0002", full_name="Орлова Марина", roles="manager")
        s.add_all([duty, backup])
        await s.flush()
        manager = m.StaffRow(
            external_id="S-0001", full_name="Соколов Андрей", roles="manager", backup_id=backup.id
        )
        coordinator = m.StaffRow(
            external_id="S-0101", full_name="Лебедева Анна", roles="coordinator"
        )
        admin = m.StaffRow(external_id="S-0900", full_name="Администратор", roles="admin,manager")
        s.add_all([manager, coordinator, admin])
        await s.flush()
        client = m.ClientRow(
            external_id="C-0001",
            first_name="Иван",
            middle_name="Петрович",
            last_name="Волков",
            birthday=date(1970, 3, 14),
            city="Москва",
            timezone="Europe/Moscow",
            quiet_start=time(22, 0),
            quiet_end=time(9, 0),
            manager_id=manager.id,
            financial_segment="stable_keeper",
        )
        other = m.ClientRow(
            external_id="C-0002",
            first_name="Елена",
            middle_name="Сергеевна",
            last_name="Морозова",
            manager_id=backup.id,
        )
        s.add_all([client, other])
        await s.flush()
        s.add(
            m.ProductHoldingRow(
                client_id=client.id,
                product_type="deposit",
                name="Вклад «Капитал»",
                balance=Decimal("25000000"),
                currency="RUB",
            )
        )
        await uow.commit()
        return MiniBank(
            manager_id=manager.id,
            backup_id=backup.id,
            duty_id=duty.id,
            coordinator_id=coordinator.id,
            admin_id=admin.id,
            client_id=client.id,
            other_client_id=other.id,
        )


async def add_dated_facts(crm: SqlCrm, client_id: int) -> None:
    """Dates on the client's card: a client since 01.05.2012, a deposit maturing on
    20.12.2026 and a life event of 01.11.2026 (DEFAULT_NOW is 22.11.2026)."""
    async with crm.unit_of_work() as uow:
        s = uow.session
        client = await s.get(m.ClientRow, client_id)
        assert client is not None
        client.client_since = date(2012, 5, 1)
        s.add(
            m.ProductHoldingRow(
                client_id=client_id,
                product_type="deposit",
                name="Вклад «Сезонный»",
                balance=Decimal("3000000"),
                currency="RUB",
                matures_on=date(2026, 12, 20),
            )
        )
        s.add(
            m.LifeEventRow(
                client_id=client_id,
                kind="family",
                happened_on=date(2026, 11, 1),
                description="Рождение внука",
                recorded_at=datetime(2026, 11, 2, tzinfo=UTC),
            )
        )
        await uow.commit()


async def log_message(
    uow: UnitOfWork, *, at: datetime, actor: str = "client", direction: str = "in", **fields: Any
) -> int:
    """A message in the interaction log, in a messenger; `fields` are the rest of
    `interactions.record` (client_id, update_id, text, messenger...). Its id."""
    return await uow.interactions.record(
        occurred_at=at,
        channel="messenger",
        direction=direction,
        kind="message",
        actor=actor,
        **fields,
    )


async def link_account(
    crm: SqlCrm,
    *,
    user: int,
    now: datetime,
    client_id: int | None = None,
    staff_id: int | None = None,
    messenger: str = "telegram",
    language: str | None = None,
) -> None:
    """The messenger account `user` of a client or a staff member, linked (committed); its
    private chat's id is the user's, as in both messengers."""
    async with crm.unit_of_work() as uow:
        await uow.links.bind(
            user_id=user,
            chat_id=user,
            client_id=client_id,
            staff_id=staff_id,
            now=now,
            language=language,
            messenger=messenger,
        )
        await uow.commit()
