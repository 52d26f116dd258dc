"""Named sync state in `crm_sync_state`: change cursors and an OAuth app's rotating tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm_adapter import models as m

TOKENS = "bitrix24.oauth"


async def read_state(session: AsyncSession, name: str) -> dict[str, Any] | None:
    return await session.scalar(
        select(m.CrmSyncStateRow.value).where(m.CrmSyncStateRow.name == name)
    )


async def write_state(
    session: AsyncSession, name: str, value: dict[str, Any], *, now: datetime
) -> None:
    row = await session.get(m.CrmSyncStateRow, name)
    if row is None:
        session.add(m.CrmSyncStateRow(name=name, value=value, updated_at=now))
    else:
        row.value = value
        row.updated_at = now
    await session.flush()


class SqlTokenStore:
    """Bitrix24 rotates the refresh token on every use: the newest one is kept here, so a
    restarted process (or another replica) does not present a spent one."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self) -> dict[str, Any] | None:
        async with AsyncSession(self._engine) as session:
            return await read_state(session, TOKENS)

    async def save(self, tokens: dict[str, Any]) -> None:
        async with AsyncSession(self._engine) as session:
            await write_state(session, TOKENS, tokens, now=datetime.now(UTC))
            await session.commit()
