"""Callback data of inline buttons; a button whose data does not parse is treated as forged."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


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
    value: int = 0


class ClientRequestCb(CallbackData, prefix="creq"):
    # open | cancel | comment
    action: str
    request_id: int


class StaffRequestCb(CallbackData, prefix="sreq"):
    # open | accept | resolve | reply | reassign
    action: str
    request_id: int


class ReassignCb(CallbackData, prefix="reasg"):
    request_id: int
    staff_id: int


class RateCb(CallbackData, prefix="rate"):
    request_id: int
    score: int


class FeedbackCommentCb(CallbackData, prefix="fbc"):
    feedback_id: int


class NpsCb(CallbackData, prefix="nps"):
    period: str
    score: int


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
