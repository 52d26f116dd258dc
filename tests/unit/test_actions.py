"""Neutral actions: their layout, their stored form and the Telegram buttons they become."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.actions import CALLBACKS, render, render_stored
from bot.callbacks import NpsCb, RateCb, StaffRequestCb
from bot.event_callbacks import EventRateCb, RsvpCb
from common.i18n import Catalog
from concierge.actions import Action, Actions, arrange
from concierge.events.messages import rating_actions as event_rating_actions
from concierge.events.messages import rsvp_actions
from concierge.feedback import nps_actions
from concierge.request_messages import rating_actions, staff_request_actions
from crm_adapter.dto import Event


def _event(*, plus_ones: bool) -> Event:
    start = datetime(2026, 12, 20, 16, tzinfo=UTC)
    return Event.model_validate(
        {
            "id": 7,
            "title": "Вечер",
            "description": None,
            "starts_at": start,
            "ends_at": start.replace(hour=19),
            "timezone": "Europe/Moscow",
            "venue": None,
            "city": None,
            "capacity": 10,
            "plus_ones_allowed": plus_ones,
            "rsvp_deadline": None,
            "audience": None,
            "status": "open",
            "coordinator_id": None,
            "created_at": start.replace(day=1),
            "reminder_delay_hours": 48,
            "sequence": 0,
            "sent_at": None,
            "cancelled_at": None,
        }
    )


def test_arrange_cuts_rows_and_repeats_the_last_size() -> None:
    actions = [Action.of(str(n), "nps", period="2026Q4", score=n) for n in range(11)]
    assert [len(row) for row in arrange(actions, 6, 5).rows] == [6, 5]
    assert [len(row) for row in arrange(actions, 1, 2).rows] == [1, 2, 2, 2, 2, 2]
    assert [len(row) for row in arrange(actions).rows] == [8, 3]
    with pytest.raises(ValueError):
        arrange(actions, 9)


def test_stored_form_round_trips() -> None:
    actions = staff_request_actions(Catalog.shared().translator("ru"), 5, status="new")
    assert Actions.from_json(actions.to_json()) == actions


def test_every_use_case_action_renders_to_the_callback_its_handler_filters_on() -> None:
    t = Catalog.shared().translator("en")
    built = [
        (staff_request_actions(t, 5, status="new"), StaffRequestCb),
        (rating_actions(5), RateCb),
        (rsvp_actions(t, _event(plus_ones=True), 9), RsvpCb),
        (event_rating_actions(9), EventRateCb),
        (nps_actions("2026Q4"), NpsCb),
    ]
    for actions, factory in built:
        markup = render(actions)
        assert markup is not None
        for row, buttons in zip(actions.rows, markup.inline_keyboard, strict=True):
            for action, button in zip(row, buttons, strict=True):
                assert button.text == action.label
                assert button.callback_data is not None
                parsed = factory.unpack(button.callback_data)
                assert parsed.model_dump() == action.arguments
    assert set(CALLBACKS) == {"staff_request", "request_rating", "rsvp", "event_rating", "nps"}


def test_plus_one_is_offered_only_where_the_event_allows_it() -> None:
    t = Catalog.shared().translator("en")
    with_guest = [a.arguments["answer"] for a in rsvp_actions(t, _event(plus_ones=True), 1)]
    alone = [a.arguments["answer"] for a in rsvp_actions(t, _event(plus_ones=False), 1)]
    assert with_guest == ["accept", "accept1", "maybe", "decline"]
    assert alone == ["accept", "maybe", "decline"]


def test_an_unknown_action_is_a_programming_error_not_a_silent_button() -> None:
    with pytest.raises(ValueError, match="no button"):
        render(arrange([Action.of("?", "teleport", to="moon")]))


def test_keyboards_queued_in_telegram_form_are_still_delivered() -> None:
    legacy = {"inline_keyboard": [[{"text": "1", "callback_data": "rate:5:1"}]]}
    markup = render_stored(legacy)
    assert markup is not None and markup.inline_keyboard[0][0].callback_data == "rate:5:1"
    assert render_stored(None) is None and render(None) is None
