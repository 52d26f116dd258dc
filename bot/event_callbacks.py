"""Callback data of the events feature's inline buttons (invitations, ratings, staff views)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from bot.callbacks import RowId, Score


class RsvpCb(CallbackData, prefix="rsvp"):
    # The invitation id, never the client id: ownership is checked against the presser.
    invitation_id: RowId
    answer: str  # accept | accept1 | decline | maybe


class EventRateCb(CallbackData, prefix="evrate"):
    invitation_id: RowId
    score: Score


class EventAdminCb(CallbackData, prefix="evadm"):
    event_id: RowId
    action: str  # preview | send | csv | list
    status: str = ""


class AudienceCb(CallbackData, prefix="evaud"):
    event_id: RowId
    client_id: RowId
    include: bool


class WizardCb(CallbackData, prefix="evwiz"):
    choice: str  # plus_yes | plus_no | create | abort
