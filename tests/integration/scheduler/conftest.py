"""Fixtures for the scheduler's integration tests: a fresh CRM on SQLite and a fake Bot API."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.telegram_standin import TelegramStandIn
from common.clock import ManualClock
from crm_adapter import models as m
from crm_adapter.sql import SqlCrm
from tests.factories import link_account

START = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)  # 12:00 in Moscow: outside quiet hours


@pytest.fixture
async def crm(sqlite_url: str) -> AsyncIterator[SqlCrm]:
    # The migrated template (not create_all): commands open the store only at the head revision.
    store = SqlCrm.from_url(sqlite_url)
    yield store
    await store.close()


@pytest.fixture
async def pg_crm() -> AsyncIterator[SqlCrm]:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL not set")
    schema = f"sched_{uuid.uuid4().hex[:10]}"
    store = SqlCrm.from_url(url)
    async with store.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await store.close()
    # A schema of our own: other developers' tests share this database.
    store = SqlCrm(
        create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    )
    async with store.engine.begin() as conn:
        await conn.run_sync(m.Base.metadata.create_all)
    yield store
    async with store.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await store.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def standin() -> AsyncIterator[TelegramStandIn]:
    async with TelegramStandIn(keep_texts=True) as api:
        yield api


@pytest.fixture
async def bot(standin: TelegramStandIn) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(standin.base_url))
    telegram_bot = Bot("42:TEST", session=session)
    yield telegram_bot
    await session.close()


async def add_client(
    crm: SqlCrm,
    *,
    client_id: int,
    chat_id: int | None = None,
    consent: bool = True,
    timezone: str = "Europe/Moscow",
    quiet: tuple[time, time] = (time(22, 0), time(9, 0)),
    birthday: date | None = None,
    marketing_opt_out: bool = False,
    do_not_disturb: bool = False,
    manager_id: int | None = None,
    language: str = "ru",
) -> None:
    """A client, their Telegram link and (optionally) an active 152-FZ consent."""
    async with crm.unit_of_work() as uow:
        uow.session.add(
            m.ClientRow(
                id=client_id,
                external_id=f"C{client_id}",
                first_name="Анна",
                middle_name="Сергеевна",
                last_name=f"Клиентова{client_id}",
                birthday=birthday,
                timezone=timezone,
                quiet_start=quiet[0],
                quiet_end=quiet[1],
                marketing_opt_out=marketing_opt_out,
                do_not_disturb=do_not_disturb,
                manager_id=manager_id,
                language=language,
            )
        )
        await uow.session.flush()
        if consent:
            await uow.consents.record(
                client_id=client_id,
                granted=True,
                document_version="2025-09-01",
                channel="messenger",
                now=START,
            )
        await uow.commit()
    if chat_id is not None:
        await link_account(crm, client_id=client_id, user=chat_id, now=START, language=language)


async def add_staff(crm: SqlCrm, *, staff_id: int, chat_id: int | None = None) -> None:
    async with crm.unit_of_work() as uow:
        uow.session.add(
            m.StaffRow(
                id=staff_id,
                external_id=f"S{staff_id}",
                full_name=f"Менеджер {staff_id}",
                roles="manager",
            )
        )
        await uow.commit()
    if chat_id is not None:
        await link_account(crm, user=chat_id, staff_id=staff_id, now=START, language="ru")
