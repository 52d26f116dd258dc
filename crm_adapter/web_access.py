"""The slice of the CRM port the staff web desk needs: login links and signed-in sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from crm_adapter.dto import Dto


class WebLoginCode(Dto):
    id: int
    staff_id: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


class WebSession(Dto):
    id: int
    staff_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None


class WebAccessRepository(Protocol):
    async def add_login_code(
        self, *, code_hash: str, staff_id: int, now: datetime, expires_at: datetime
    ) -> WebLoginCode: ...
    async def login_code(self, code_hash: str) -> WebLoginCode | None: ...
    async def claim_login_code(self, code_id: int, *, now: datetime) -> bool:
        """Marks the code used; False when another claim won the race."""
        ...

    async def add_session(
        self, *, token_hash: str, staff_id: int, now: datetime, expires_at: datetime
    ) -> WebSession: ...
    async def session(self, token_hash: str) -> WebSession | None: ...
    async def touch_session(self, session_id: int, *, now: datetime) -> None: ...
    async def end_session(self, session_id: int, *, now: datetime) -> None: ...
