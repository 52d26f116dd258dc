"""What the staff's event handlers share: who runs events, the event number, refusals."""

from __future__ import annotations

from aiogram.filters import CommandObject

from bot.callbacks import parse_row_id
from common.i18n import Translator
from concierge.events.model import EventError
from crm_adapter.dto import Role

# Coordinators run events; admins may do all they do.
COORDINATION = (Role.COORDINATOR, Role.ADMIN)


def event_id_arg(command: CommandObject) -> int | None:
    """The event number after a command (`/event 12` or `/event #12`), if there is one."""
    return parse_row_id(command.args or "")


def refusal(t: Translator, exc: EventError) -> str:
    return t(exc.key, **exc.details)
