"""What coordinators and managers see of events: texts and keyboards from use-case results."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup

from bot.event_callbacks import AudienceCb, EventAdminCb, WizardCb
from bot.keyboards import Keyboard
from common.i18n import DATE_TIME_FORMAT, Raw, Translator
from concierge.events.audience import Audience
from concierge.events.drafts import EventDraft, zone
from concierge.events.invitations import ManagerAudience
from concierge.events.messages import when, where
from concierge.events.model import SUMMARY_ORDER, EventStatus
from concierge.events.tracking import EventSummary, Guest
from crm_adapter.dto import Event

# Statuses a coordinator can list guests by, in the order of the buttons.
LIST_STATUSES = ("accepted", "declined", "maybe", "sent", "waitlisted", "checked_in")


def choice_keyboard(t: Translator, *choices: tuple[str, str]) -> InlineKeyboardMarkup:
    """Wizard buttons: (text key, choice) pairs."""
    kb = Keyboard()
    for key, choice in choices:
        kb.button(text=t(key), callback_data=WizardCb(choice=choice))
    return kb.as_markup()


def draft_summary(t: Translator, draft: EventDraft, audience_text: str) -> str:
    tz = zone(draft.timezone)
    start, end = draft.starts_at.astimezone(tz), draft.ends_at.astimezone(tz)
    deadline = (draft.rsvp_deadline or draft.starts_at).astimezone(tz)
    return t(
        "events.wizard.confirm",
        title=draft.title,
        description=draft.description or "",
        when=t(
            "events.when",
            date=start.strftime("%d.%m.%Y"),
            start=start.strftime("%H:%M"),
            end=end.strftime("%H:%M"),
            tz=draft.timezone,
        ),
        where=", ".join(p for p in (draft.venue, draft.city) if p) or "—",
        capacity=draft.capacity,
        plus_ones=t(
            "events.btn.answer_yes" if draft.plus_ones_allowed else "events.btn.answer_no"
        ),
        deadline=deadline.strftime(DATE_TIME_FORMAT),
        audience=t("events.wizard.everyone") if draft.audience.is_everyone else audience_text,
    )


def events_list(t: Translator, summaries: list[EventSummary]) -> str:
    if not summaries:
        return t("events.list.empty")
    lines = [t("events.list.title")]
    for summary in summaries:
        event = summary.event
        local = event.starts_at.astimezone(zone(event.timezone))
        lines.append(
            t(
                "events.list.item",
                id=event.id,
                title=event.title,
                date=local.strftime(DATE_TIME_FORMAT),
                status_name=t(f"events.event_status.{event.status}"),
                accepted=summary.seats_taken,
                capacity=event.capacity,
            )
        )
    return "\n".join(lines)


def card(t: Translator, summary: EventSummary) -> tuple[str, InlineKeyboardMarkup]:
    """The coordinator's tracking card: counts and the actions on the event."""
    event = summary.event
    text = t(
        "events.card",
        id=event.id,
        title=event.title,
        status_name=t(f"events.event_status.{event.status}"),
        when=when(t, event),
        where=where(event),
        taken=summary.seats_taken,
        capacity=event.capacity,
        **{k: v for k, v in summary.counts.items() if k in SUMMARY_ORDER},
    )
    kb = Keyboard()
    kb.button(
        text=t("events.btn.preview"),
        callback_data=EventAdminCb(event_id=event.id, action="preview"),
    )
    if event.status in {EventStatus.DRAFT, EventStatus.OPEN}:
        kb.button(
            text=t("events.btn.send"), callback_data=EventAdminCb(event_id=event.id, action="send")
        )
    kb.button(
        text=t("events.btn.csv"), callback_data=EventAdminCb(event_id=event.id, action="csv")
    )
    for name in LIST_STATUSES:
        kb.button(
            text=t(f"events.status.{name}"),
            callback_data=EventAdminCb(event_id=event.id, action="list", status=name),
        )
    kb.adjust(1, 2, 3, 3)
    return text, kb.as_markup()


def manager_view(t: Translator, view: ManagerAudience) -> tuple[str, InlineKeyboardMarkup | None]:
    """A manager's own clients for an event, with add and remove buttons until invited."""
    lines = [t("events.audience.title", title=view.event.title)]
    kb = Keyboard()
    mark = t("events.audience.invited_mark")
    for client in view.included:
        invited = client.id in view.invited_ids
        lines.append(
            t("events.audience.in", name=client.full_name, invited=Raw(mark) if invited else "")
        )
        # Once invited, removing would not unsend anything: no button that pretends it would.
        if not invited:
            kb.button(
                text=t("events.btn.remove", name=client.full_name),
                callback_data=AudienceCb(
                    event_id=view.event.id, client_id=client.id, include=False
                ),
            )
    for client, reason in view.excluded:
        lines.append(
            t(
                "events.audience.blocked",
                name=client.full_name,
                reason=t(f"events.reason.{reason}"),
            )
        )
    for client in view.available:
        lines.append(t("events.audience.out", name=client.full_name))
        kb.button(
            text=t("events.btn.add", name=client.full_name),
            callback_data=AudienceCb(event_id=view.event.id, client_id=client.id, include=True),
        )
    lines.append(t("events.audience.none") if len(lines) == 1 else t("events.audience.hint"))
    kb.adjust(1)
    markup = kb.as_markup()
    return "\n".join(lines), markup if markup.inline_keyboard else None


def audience_preview(
    t: Translator, event: Event, audience: Audience, manager_names: dict[int, str]
) -> str:
    members = [
        t(
            "events.preview_member",
            name=m.client.full_name,
            manager=manager_names.get(m.client.manager_id or 0, "—"),
        )
        for m in audience.included
    ]
    excluded = [
        t("events.preview_excluded", name=c.full_name, reason=t(f"events.reason.{r}"))
        for c, r in audience.excluded
    ]
    return t(
        "events.preview",
        title=event.title,
        count=len(members),
        members=Raw("\n".join(members) or t("events.none")),
        excluded_count=len(excluded),
        excluded=Raw("\n".join(excluded) or t("events.none")),
    )


def guest_list(t: Translator, event: Event, status: str, found: list[Guest]) -> str:
    lines = [t("events.guests.title", title=event.title, status=t(f"events.status.{status}"))]
    lines += [
        t(
            "events.guests.item",
            name=g.client.full_name,
            plus=" +1" if g.invitation.plus_one else "",
            manager=g.manager_name or "—",
        )
        for g in found
    ] or [t("events.guests.empty")]
    return "\n".join(lines)
