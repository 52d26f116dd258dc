"""The export a client receives on a 152-FZ request: one zip with JSON and a CSV per section.

Readable without our software: `data.json` holds everything, each CSV one section (a table
of the CRM), and `README.txt` says what the sections are, in the client's language.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from common.i18n import Translator
from crm_adapter.personal_data import Holdings

# Sections in the order a person would look for them; others follow alphabetically.
ORDER = (
    "client",
    "consent",
    "messenger_link",
    "interaction",
    "service_request",
    "request_comment",
    "note",
    "life_event",
    "product_holding",
    "account_transaction",
    "meeting",
    "invitation",
    "event",
    "feedback",
    "audit_entry",
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    plain = _plain(value)
    if plain is None:
        return ""
    if isinstance(plain, dict | list):
        return json.dumps(plain, ensure_ascii=False)
    return str(plain)


def sections(holdings: Holdings) -> list[str]:
    present = [name for name, rows in holdings.tables.items() if rows]
    return sorted(present, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def record_count(holdings: Holdings) -> int:
    return sum(len(rows) for rows in holdings.tables.values())


def build_archive(
    holdings: Holdings, *, external_id: str, produced_at: datetime, t: Translator
) -> bytes:
    """The zip for the client: README.txt, data.json and one CSV per non-empty section."""
    names = sections(holdings)
    document = {
        "client": external_id,
        "produced_at": produced_at.isoformat(),
        "sections": {name: _plain(holdings.tables[name]) for name in names},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        readme = [t("privacy.archive_readme", client=external_id, at=produced_at.isoformat())]
        readme += [f"{name}.csv — {t(f'privacy.section.{name}')}" for name in names]
        archive.writestr("README.txt", "\n".join(readme) + "\n")
        archive.writestr(
            "data.json", json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True)
        )
        for name in names:
            rows = holdings.tables[name]
            columns = list(dict.fromkeys(key for row in rows for key in row))
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(row.get(c)) for c in columns])
            # A byte-order mark so spreadsheet programs read the Cyrillic right.
            archive.writestr(f"{name}.csv", "\ufeff" + out.getvalue())
    return buffer.getvalue()


def file_name(external_id: str, produced_at: datetime) -> str:
    return f"personal-data-{external_id}-{produced_at:%Y%m%d}.zip"
