"""Declarative base and column types shared by every CRM table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, Text, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapper
from sqlalchemy.types import TypeDecorator

from common.sensitive import mask_text

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigIntPk = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no time zone type and returns naive values; without this, comparisons
    between stored and current times would silently mix naive and aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def mask_values(value: Any) -> Any:
    """Every string inside a JSON value with its sensitive data masked."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_values(item) for item in value]
    return value


class MaskedText(TypeDecorator[str]):
    """Text a person wrote: card, passport, phone and similar numbers are masked on the way
    in (`common.sensitive`), whichever path writes it (ORM, Core, the update ledger)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return mask_text(value)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        # A value compared with the column (==, LIKE) is a search term, not something
        # stored: it is bound as plain text.
        return self.impl_instance


class MaskedJSON(TypeDecorator[Any]):
    """A JSON document that may quote what a person wrote; its strings are masked."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return mask_values(value)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        return self.impl_instance


def _mask_on_set(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
    return mask_values(value)


@event.listens_for(Mapper, "mapper_configured")
def _mask_attributes(mapper: Mapper[Any], class_: type) -> None:
    """Masks masked columns on the ORM object too, not only in the row: an object that was
    just added (and the DTO made from it) must not carry what the database will not."""
    for attribute in mapper.column_attrs:
        if any(isinstance(c.type, MaskedText | MaskedJSON) for c in attribute.columns):
            event.listen(getattr(class_, attribute.key), "set", _mask_on_set, retval=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 - SQLAlchemy's documented hook
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }
