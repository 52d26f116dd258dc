"""Callback data of the events feature's inline buttons (invitations, ratings, staff views)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class RsvpCb(CallbackData, prefix="rsvp"):
    # The invitation id, never the client id: ownership is checked against the presser.
    invitation_id: int
    answer: str  # accept | accept1 | decline | maybe


class EventRateCb(CallbackData, prefix="evrate"):
    invitation_id: int
    score: int


class EventAdminCb(CallbackData, prefix="evadm"):
    event_id: int
    action: str  # preview | send | csv | list
    status: str = ""


class AudienceCb(CallbackData, prefix="evaud"):
    event_id: int
    client_id: int
    include: bool


class WizardCb(CallbackData, prefix="evwiz"):
    choice: str  # plus_yes | plus_no | create | abort
