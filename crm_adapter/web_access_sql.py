"""SQL implementation of the web desk's repository (crm_adapter.web_access)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_adapter import models as m
from crm_adapter.web_access import WebLoginCode, WebSession


class SqlWebAccessRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add_login_code(
        self, *, code_hash: str, staff_id: int, now: datetime, expires_at: datetime
    ) -> WebLoginCode:
        row = m.WebLoginCodeRow(
            code_hash=code_hash, staff_id=staff_id, created_at=now, expires_at=expires_at
        )
        self._s.add(row)
        await self._s.flush()
        return WebLoginCode.model_validate(row)

    async def login_code(self, code_hash: str) -> WebLoginCode | None:
        row = await self._s.scalar(
            select(m.WebLoginCodeRow).where(m.WebLoginCodeRow.code_hash == code_hash)
        )
        return WebLoginCode.model_validate(row) if row else None

    async def claim_login_code(self, code_id: int, *, now: datetime) -> bool:
        # Conditional update: of two browsers opening the same link, only one signs in.
        result = await self._s.execute(
            update(m.WebLoginCodeRow)
            .where(m.WebLoginCodeRow.id == code_id, m.WebLoginCodeRow.used_at.is_(None))
            .values(used_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def add_session(
        self, *, token_hash: str, staff_id: int, now: datetime, expires_at: datetime
    ) -> WebSession:
        row = m.WebSessionRow(
            token_hash=token_hash,
            staff_id=staff_id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
        self._s.add(row)
        await self._s.flush()
        return WebSession.model_validate(row)

    async def session(self, token_hash: str) -> WebSession | None:
        row = await self._s.scalar(
            select(m.WebSessionRow).where(m.WebSessionRow.token_hash == token_hash)
        )
        return WebSession.model_validate(row) if row else None

    async def touch_session(self, session_id: int, *, now: datetime) -> None:
        await self._s.execute(
            update(m.WebSessionRow)
            .where(m.WebSessionRow.id == session_id)
            .values(last_seen_at=now)
        )

    async def end_session(self, session_id: int, *, now: datetime) -> None:
        await self._s.execute(
            update(m.WebSessionRow)
            .where(m.WebSessionRow.id == session_id, m.WebSessionRow.ended_at.is_(None))
            .values(ended_at=now)
        )
