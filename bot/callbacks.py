"""Callback data of inline buttons; a button whose data does not parse is treated as forged."""

from __future__ import annotations

from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

# A row id in the CRM (an INTEGER column). Anything else in a button is forged: a larger
# number used to reach the database and fail there (SQLite cannot bind it, PostgreSQL
# refuses it as out of range), an unhandled error instead of the stale-button answer.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
# A rating (1-5) or an NPS answer (0-10); the use cases check the exact scale.
Score = Annotated[int, Field(ge=0, le=10)]


def parse_row_id(raw: str) -> int | None:
    """A row id typed in a command ("12" or "#12"), or None when it cannot be one."""
    digits = raw.strip().lstrip("#")
    # isascii: "²".isdigit() holds, but int() refuses it.
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 10:
        return None
    value = int(digits)
    return value if 1 <= value <= MAX_ROW_ID else None


class ConsentCb(CallbackData, prefix="consent"):
    granted: bool


class LanguageCb(CallbackData, prefix="lang"):
    code: str


class MenuCb(CallbackData, prefix="menu"):
    section: str


class ServiceCb(CallbackData, prefix="svc"):
    code: str


class WizardCb(CallbackData, prefix="wiz"):
    # opt (value = option index) | back | cancel | confirm
    action: str
    value: Annotated[int, Field(ge=0, le=999)] = 0


class ClientRequestCb(CallbackData, prefix="creq"):
    # open | cancel | comment
    action: str
    request_id: RowId


class StaffRequestCb(CallbackData, prefix="sreq"):
    # open | accept | resolve | reply | reassign
    action: str
    request_id: RowId


class ReassignCb(CallbackData, prefix="reasg"):
    request_id: RowId
    staff_id: RowId


class RateCb(CallbackData, prefix="rate"):
    request_id: RowId
    score: Score


class FeedbackCommentCb(CallbackData, prefix="fbc"):
    feedback_id: RowId


class NpsCb(CallbackData, prefix="nps"):
    period: str
    score: Score


class SettingsCb(CallbackData, prefix="set"):
    action: str
    value: str = ""


class RelayCb(CallbackData, prefix="relay"):
    # start | stop
    action: str


class SectionCb(CallbackData, prefix="sec"):
    """Show the full section behind a citation (audience checked again on press)."""

    doc: str
    key: str


class CrmQueueCb(CallbackData, prefix="crmq"):
    # retry: put every dead letter back in the queue
    action: str


class DataRightsCb(CallbackData, prefix="dsr"):
    """A 152-FZ action on a data ticket (erase); the ticket's owner is checked on press."""

    action: str
    request_id: int
