"""Access filters on the identity resolved from the CRM (roles never come from a username)."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from concierge.identity import Identity, PersonKind
from crm_adapter.dto import Role


class IsClient(Filter):
    """A linked client; with `consent=True` only one who gave consent to data processing."""

    def __init__(self, *, consent: bool = False) -> None:
        self.consent = consent

    async def __call__(self, event: TelegramObject, identity: Identity, **_: Any) -> bool:
        return identity.kind is PersonKind.CLIENT and (identity.consent or not self.consent)


class IsStaff(Filter):
    """Staff holding any of the roles (any staff member when none are given)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = roles

    async def __call__(self, event: TelegramObject, identity: Identity, **_: Any) -> bool:
        if identity.kind is not PersonKind.STAFF:
            return False
        return not self.roles or identity.has_role(*self.roles)


class IsUnknown(Filter):
    async def __call__(self, event: TelegramObject, identity: Identity, **_: Any) -> bool:
        return identity.kind is PersonKind.UNKNOWN
