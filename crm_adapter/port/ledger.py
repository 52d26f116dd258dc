"""The update ledger: every update's own bookkeeping, outside any unit of work."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from crm_adapter.dto import LinkedAccount

# (client id, staff id) a chat belongs to.
Owner = tuple[int | None, int | None]
# A chat is known by its messenger and its id there: ids of different messengers may coincide.
ChatKey = tuple[str, int]


class UpdateLedger(Protocol):
    async def account(self, user_id: int, *, messenger: str = "telegram") -> LinkedAccount | None:
        """The messenger account of `user_id` with its owner, or None for a stranger."""
        ...

    async def open_update(
        self,
        user_id: int,
        inbound: Callable[[LinkedAccount | None], Mapping[str, Any]],
        *,
        messenger: str = "telegram",
    ) -> LinkedAccount | None:
        """`account`, then commits the inbound interaction `inbound` makes of it, on one
        connection; DuplicateUpdate if its update_id was seen before. `inbound` may run
        more than once (a job that met another process's lock is run again): it only
        computes the row."""
        ...

    async def log_replies(
        self, records: Sequence[Mapping[str, Any]], *, known_owners: Mapping[ChatKey, Owner]
    ) -> None:
        """Commits outgoing calls (each naming its `messenger`) as interactions; owners of
        chats not in `known_owners` are looked up."""
        ...

    async def close(self) -> None:
        """Releases what the ledger holds of its own (the store's `close` calls it)."""
        ...
