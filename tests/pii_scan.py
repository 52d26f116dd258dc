"""Scans a whole CRM database for given strings: every table, every column, files included.

The test's own reading of the store, independent of the code under test: JSON is decoded
(non-ASCII text sits escaped in it), bytes are read as text, zip archives member by member.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from crm_adapter.models import Base
from crm_adapter.sql import SqlCrm


@dataclass(frozen=True)
class Trace:
    table: str
    column: str
    row: dict[str, Any]
    needle: str


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        if raw.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                return "\n".join(
                    archive.read(name).decode("utf-8", errors="ignore")
                    for name in archive.namelist()
                )
        return raw.decode("utf-8", errors="ignore")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        try:
            # A JSON column read back as text (or text that is JSON) is decoded as well.
            return value + "\n" + json.dumps(json.loads(value), ensure_ascii=False)
        except ValueError:
            return value
    return str(value) if value is not None else ""


async def traces(crm: SqlCrm, needles: list[str]) -> list[Trace]:
    found: list[Trace] = []
    async with crm.unit_of_work() as uow:
        for table in Base.metadata.sorted_tables:
            rows = (await uow.session.execute(select(table))).mappings().all()
            for row in rows:
                for column, value in row.items():
                    text = _as_text(value)
                    found.extend(
                        Trace(table.name, column, dict(row), needle)
                        for needle in needles
                        if needle in text
                    )
    return found
