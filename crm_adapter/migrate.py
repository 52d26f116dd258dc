"""Applies the Alembic migrations of the CRM store, from the CLI, the tests or start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Brings the database to `revision` on an existing engine (one connection, one txn)."""

    def _upgrade(connection: object) -> None:
        config = alembic_config(str(engine.url))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


class SchemaNotReady(RuntimeError):
    """The database lacks the schema this code needs; the message says which command fixes it.

    Raised before any query, so a command on a fresh or outdated database ends in one clear
    line instead of the driver's "no such table" traceback.
    """

    def __init__(self, current: str | None, head: str, *, known: bool) -> None:
        self.current = current
        self.head = head
        if current is None:
            reason = "the database has no schema yet"
        elif known:
            reason = f"the database is at migration {current}, this version needs {head}"
        else:
            reason = (
                f"the database is at migration {current}, which this version does not know "
                "(was it migrated by a newer release?)"
            )
        hint = "run `concierge migrate` first" if known or current is None else "upgrade the code"
        super().__init__(f"{reason}: {hint}.")


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None, "the migrations directory has no revision"
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision stamped in the database, or None when it was never migrated."""

    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_read)


async def require_current_schema(engine: AsyncEngine) -> None:
    """Raises SchemaNotReady unless the database is at the code's head revision."""
    head = head_revision()
    current = await current_revision(engine)
    if current == head:
        return
    raise SchemaNotReady(current, head, known=current is not None and _is_known(current))


def _is_known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config("")).get_revision(revision) is not None
    except CommandError:
        return False
