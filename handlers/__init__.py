"""Feature routers, assembled in one place for production, the console and the tests."""

from __future__ import annotations

from aiogram import Router

from handlers import (
    client_settings,
    crm_queue,
    data_rights,
    event_card,
    event_planning,
    event_rsvp,
    fallback,
    feedback,
    history,
    manager,
    menu,
    my_requests,
    questions,
    reachability,
    relay,
    services,
    staff_requests,
    start,
    web_login,
)


def get_routers() -> list[Router]:
    """Routers in priority order; the catch-all fallback is last on purpose.

    Routers are module-level (one per feature file), and aiogram lets a router belong to one
    dispatcher at a time; tests and the console build a fresh dispatcher per session, so the
    previous attachment is released here.
    """
    routers = [
        reachability.router,
        start.router,
        menu.router,
        # Before the workspace: its catch-all refuses client buttons it does not know.
        history.router,
        manager.router,
        web_login.router,
        crm_queue.router,
        data_rights.router,
        event_planning.router,
        event_card.router,
        event_rsvp.router,
        # State-bound routers (wizard, relay, comments) before anything matching plain text.
        services.router,
        my_requests.router,
        staff_requests.router,
        feedback.router,
        relay.router,
        client_settings.router,
        # Any other text from a client is a question for the knowledge base.
        questions.router,
        fallback.router,
    ]
    for router in routers:
        router._parent_router = None  # noqa: SLF001 - see docstring
    return routers
