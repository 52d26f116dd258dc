"""The slice of the CRM port for a data subject's rights (152-FZ): find, export, erase, purge.

Everything the store holds about one client is found through the foreign keys to `client`
(plus the chats of the client's messenger accounts and the comments on their requests), so a
table added later is exported without anyone remembering to. Erasure needs a decision per
table (delete, keep an anonymised stub for accounting, or keep as proof), and refuses to run
while a table that points at a client has none: half an erasure would be reported as done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# What replaces erased text; the same in every table so a scan can tell erased from absent.
ERASED = "[удалено]"


@dataclass(frozen=True)
class Chat:
    """A messenger account of the client: whose conversation state to forget."""

    messenger: str
    user_id: int
    chat_id: int


@dataclass(frozen=True)
class Holdings:
    """Everything held about one client, table by table, as plain values (rows as dicts)."""

    client_id: int
    tables: dict[str, list[dict[str, Any]]]
    chats: tuple[Chat, ...] = ()

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.tables.get(table, [])


@dataclass(frozen=True)
class ErasureReport:
    """Rows changed per table: anonymised in place, deleted, or scrubbed of a mention."""

    anonymised: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    scrubbed: dict[str, int] = field(default_factory=dict)

    def total(self) -> int:
        return (
            sum(self.anonymised.values())
            + sum(self.deleted.values())
            + sum(self.scrubbed.values())
        )


class PersonalDataRepository(Protocol):
    async def collect(self, client_id: int) -> Holdings:
        """Every row about the client (secrets such as code hashes and file bytes left out)."""
        ...

    async def erase(
        self, client_id: int, *, mentions: list[str], fragments: list[str], now: datetime
    ) -> ErasureReport:
        """Anonymises the client everywhere.

        The client's own rows are deleted or reduced to stubs by table; elsewhere, text that
        `mentions` them (names) has those words replaced (a message that belongs to no client,
        in a staff chat, loses its text whole), and such messages carrying one of the
        `fragments` of texts by or about them lose their text whole too.
        """
        ...

    async def purge_before(
        self, moment: datetime, *, relay_before: datetime | None = None
    ) -> dict[str, int]:
        """Removes personal data older than `moment` from the logs and working records
        (interactions excepted: they have their own purge), relay mappings older than
        `relay_before` when it is later; rows changed per table."""
        ...
