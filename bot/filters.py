"""Access filters on the identity resolved from the CRM (roles never come from a username)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.types import CallbackQuery, TelegramObject

from concierge.identity import Identity, PersonKind
from crm_adapter.dto import Client, Role, Staff


class IsClient(Filter):
    """A linked client; with `consent=True` only one who gave consent to data processing.

    Puts the client in handler data as `client`, so a handler behind this filter takes
    `client: Client` instead of checking `identity.client` again.
    """

    def __init__(self, *, consent: bool = False) -> None:
        self.consent = consent

    async def __call__(
        self, event: TelegramObject, identity: Identity, **_: Any
    ) -> bool | dict[str, Client]:
        if identity.client is None or not (identity.consent or not self.consent):
            return False
        return {"client": identity.client}


class IsStaff(Filter):
    """Staff holding any of the roles (any staff member when none are given).

    Puts the staff member in handler data as `staff`, as `IsClient` does the client.
    """

    def __init__(self, *roles: Role) -> None:
        self.roles = roles

    async def __call__(
        self, event: TelegramObject, identity: Identity, **_: Any
    ) -> bool | dict[str, Staff]:
        if identity.kind is not PersonKind.STAFF or identity.staff is None:
            return False
        if self.roles and not identity.has_role(*self.roles):
            return False
        return {"staff": identity.staff}


def staff_only(router: Router) -> Router:
    """The router's messages and button presses reach its handlers only from staff.

    Checked once for the whole router: a client's message or press skips all of its
    handlers at one check instead of failing each one's filters in turn (a client's question
    used to try two dozen of them). Handlers keep their own role filters as well, so one
    moved to another router stays protected.
    """
    router.message.filter(IsStaff())
    router.callback_query.filter(IsStaff())
    return router


class IsUnknown(Filter):
    async def __call__(self, event: TelegramObject, identity: Identity, **_: Any) -> bool:
        return identity.kind is PersonKind.UNKNOWN


def run_sync_filters_inline(router: Router) -> int:
    """Evaluates the synchronous filters of `router` and its sub-routers on the event loop.

    aiogram runs a filter that is a plain function in a worker thread (`asyncio.to_thread`),
    which protects the loop from a filter that blocks. Ours never block: magic filters
    (`F.text`, `F.action == "open"`) and FSM states are attribute checks of a microsecond,
    while each thread hop costs a wake-up of another core and a return trip through the loop;
    a menu press paid about six of them. Returns how many filters it changed (idempotent).
    """
    changed = 0
    for each in router.chain_tail:
        for observer in each.observers.values():
            for handler in [observer._handler, *observer.handlers]:  # noqa: SLF001 - see above
                for event_filter in handler.filters or ():
                    if not event_filter.awaitable:
                        event_filter.callback = _awaitable(event_filter.callback)
                        event_filter.awaitable = True
                        changed += 1
    return changed


def _awaitable(check: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def evaluate(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    return evaluate


def skip_foreign_callbacks(router: Router) -> int:
    """Lets each button filter refuse another feature's press by its prefix alone.

    A press walks the routers' button handlers in order, and aiogram's `CallbackData` filter
    decides by parsing the data, which for every other feature's button ends in a raised
    and caught exception; a press late in the chain paid dozens. A prefix check first gives
    the same answer for those (a parse fails on a foreign prefix) at the cost of a string
    comparison. Returns how many filters it changed (idempotent).
    """
    changed = 0
    for each in router.chain_tail:
        for handler in each.callback_query.handlers:
            for event_filter in handler.filters or ():
                check = event_filter.callback
                if isinstance(check, CallbackQueryFilter):
                    event_filter.callback = _prefixed(check)
                    changed += 1
    return changed


def _prefixed(check: CallbackQueryFilter) -> Callable[..., Awaitable[Any]]:
    head = f"{check.callback_data.__prefix__}{check.callback_data.__separator__}"

    # The same signature as the filter's, so aiogram passes the same arguments.
    async def evaluate(query: CallbackQuery) -> Any:
        data = query.data if isinstance(query, CallbackQuery) else None
        if not data or not data.startswith(head):
            return False
        return await check(query)

    return evaluate
