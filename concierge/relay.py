"""Talk to my manager: client messages relayed to staff and replies relayed back.

A relayed message is remembered (staff chat, message id -> client) so the manager answers by
simply replying to it. When the manager is absent or off work, the backup (then the duty
desk) receives it and the client is told who will answer; when no one's messenger can take
it now, it is kept in a request for the duty desk (`concierge.hand_over`). Messages reach
people through a channel's `concierge.courier.Courier`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from common.clock import Clock
from common.i18n import Catalog, Translator
from common.sensitive import SECRET_KINDS, mask
from concierge.access import may_write_to
from concierge.courier import Courier, RecipientBlocked, RecipientUnreachable
from concierge.hand_over import open_question
from concierge.insights.reasons import segment_label
from concierge.notify import Notifier
from concierge.request_access import default_texts
from concierge.staffing import MANAGER_LEVEL, answering_in_turn
from crm_adapter.dto import Client, Messenger, MessengerLink, ServiceRequest, Staff
from crm_adapter.port import UnitOfWork


@dataclass(frozen=True)
class RelayOutcome:
    """Who took the client's message live (`staff`, a `stand_in` for the `manager` when not
    the manager), or, when no one's messenger could take it, the `request` it was kept in
    and who holds it (`staff`, None when no one could); `media_kept` says whether an
    attachment went with it."""

    staff: Staff | None
    stand_in: bool
    manager: Staff | None
    request: ServiceRequest | None = None
    media_kept: bool = True


async def relay_to_manager(
    uow: UnitOfWork,
    courier: Courier,
    notifier: Notifier,
    clock: Clock,
    *,
    client: Client,
    chat_id: int,
    message_id: int,
    text: str | None,
    has_media: bool,
    texts: Catalog | None = None,
    messenger: str = Messenger.TELEGRAM.value,
) -> RelayOutcome:
    """Passes the client's message (written in `messenger`) to whoever answers for them now,
    in the messenger that person uses, with a one-line card.

    Nothing is lost: when that person's messenger cannot take it (not linked, blocked, the
    account refuses the bot, no bot for it in this process, a network or server failure),
    their other messenger is tried, then the next in turn (the backup, then the duty desk);
    when no one's can, it becomes a service request for the duty desk through the notifier,
    as a question handed over does, and the client is told its number.

    Card, document and account numbers and codes reach staff masked, with a hint that such
    data belongs in the bank's secure channel. A phone number goes through: "call me back on
    ..." is what a client writes to their manager, and the staff member who serves them may
    call. Whatever is logged or stored of the relay is masked in full, phones included (the
    columns mask on write).
    """
    now = clock.now()
    manager = await uow.staff.get(client.manager_id) if client.manager_id else None
    catalog = texts or default_texts()
    text, masked = _without_secrets(text)
    # Who could not take the message, and why: kept with the relay in the client's history.
    passed_over: list[dict[str, Any]] = []
    refused: list[MessengerLink] = []
    for level, staff in await answering_in_turn(uow, client, now):
        stand_in = level != MANAGER_LEVEL
        relayed = await _deliver_live(
            uow,
            courier,
            catalog,
            now,
            staff=staff,
            client=client,
            manager=manager if stand_in else None,
            text=text,
            masked=masked,
            has_media=has_media,
            from_chat_id=chat_id,
            message_id=message_id,
            passed_over=passed_over,
            refused=refused,
        )
        if relayed is None:
            continue
        await _mark_blocked(uow, refused, now)
        link, ids = relayed
        for relayed_id in ids:
            await uow.relay.add(
                staff_id=staff.id,
                staff_chat_id=link.chat_id,
                message_id=relayed_id,
                client_id=client.id,
                now=now,
                messenger=link.messenger,
            )
        await _log_relay(
            uow,
            now=now,
            messenger=messenger,
            actor="client",
            client_id=client.id,
            staff_id=staff.id,
            text=text,
            payload={
                "to_staff": staff.id,
                "stand_in": stand_in,
                "relayed_ids": ids,
                "media": has_media,
                "staff_messenger": link.messenger,
            }
            | ({"passed_over": passed_over} if passed_over else {}),
        )
        return RelayOutcome(staff, stand_in, manager)
    await _mark_blocked(uow, refused, now)
    receipt = await open_question(
        uow,
        notifier,
        clock,
        client=client,
        text=text,
        reason="relay_undelivered",
        texts=catalog,
        # From the manager on: those not linked or just found blocked are passed over, one
        # whose messenger failed for now is alerted through the outbox (which retries), and
        # with no one to tell the duty desk holds it, or with no duty roster the manager:
        # never no one.
        start_level=MANAGER_LEVEL,
        attachment_lost=has_media,
        extra={"media": has_media, "passed_over": passed_over},
    )
    await _log_relay(
        uow,
        now=now,
        messenger=messenger,
        actor="client",
        client_id=client.id,
        staff_id=receipt.handler.id if receipt.handler else None,
        text=text,
        payload={
            "to_staff": None,
            "request_id": receipt.request.id,
            "media": has_media,
            "passed_over": passed_over,
        },
    )
    return RelayOutcome(
        receipt.handler, True, manager, request=receipt.request, media_kept=not has_media
    )


async def _mark_blocked(uow: UnitOfWork, links: list[MessengerLink], now: datetime) -> None:
    """As the outbox does when a delivery is refused: the account's messenger only."""
    for link in links:
        await uow.links.mark_blocked(link.chat_id, now=now, messenger=link.messenger)
    links.clear()


async def _deliver_live(
    uow: UnitOfWork,
    courier: Courier,
    catalog: Catalog,
    now: datetime,
    *,
    staff: Staff,
    client: Client,
    manager: Staff | None,
    text: str | None,
    masked: bool,
    has_media: bool,
    from_chat_id: int,
    message_id: int,
    passed_over: list[dict[str, Any]],
    refused: list[MessengerLink],
) -> tuple[MessengerLink, list[int]] | None:
    """The card and the message in the staff member's messenger: (the link used, the new
    message ids), or None when no link of theirs takes it (noted in `passed_over`). A link
    whose account refuses the bot goes to `refused` (the caller marks it blocked); one that
    cannot take it now (no bot for its messenger here, a network or server failure, a
    refused send) is left as it is; either way their other messenger is tried."""
    t = catalog.translator(staff.language)
    header = t(
        "relay.to_staff",
        client=client.full_name,
        segment=segment_label(catalog, staff.language, client.financial_segment),
        open=await uow.requests.count_open(client.id),
    )
    if manager is not None:
        header += "\n" + t("relay.stand_in_note", manager=manager.full_name)
    if masked:
        header += "\n" + t("sensitive.relay_hint")
    # A working account first, as for any message; if it is blocked, every one of theirs is.
    first = await uow.links.for_staff(staff.id)
    if first is None or first.blocked_at is not None:
        reason = "not_linked" if first is None else "blocked"
        passed_over.append({"staff": staff.id, "reason": reason})
        return None
    others = [each.value for each in Messenger if each.value != first.messenger]
    for messenger in [first.messenger, *others]:
        link = (
            first
            if messenger == first.messenger
            else await uow.links.for_staff(staff.id, messenger=messenger)
        )
        if link is None or link.blocked_at is not None:
            continue
        try:
            ids = await _pass_on(
                courier,
                link,
                reader=t,
                header=header,
                separator="\n\n",
                text=text,
                masked=masked,
                has_media=has_media,
                from_chat_id=from_chat_id,
                message_id=message_id,
            )
        except RecipientBlocked:
            passed_over.append(
                {"staff": staff.id, "reason": "refused", "messenger": link.messenger}
            )
            # Marked blocked by the caller once every send is done: on SQLite the first
            # write takes the file's write turn, which must not be held across sends.
            refused.append(link)
            continue
        except RecipientUnreachable as failure:
            # The card alone may have reached them before the message failed; the whole
            # message then goes to whoever takes it, so nothing the client wrote is lost.
            passed_over.append(
                {"staff": staff.id, "reason": failure.reason.value, "messenger": link.messenger}
            )
            continue
        return link, ids
    return None


class ReplyRefusal(StrEnum):
    """Why a staff reply to a relayed message was not delivered."""

    # The staff member no longer serves the client (reassigned, role changed, deactivated),
    # or the relayed message was addressed to someone else.
    NO_ACCESS = "no_access"
    # The relayed message is older than the reply window: start from the client's card.
    EXPIRED = "expired"
    # The client cannot be written to: unlinked, erased, or consent withdrawn.
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class ReplyOutcome:
    """A delivered reply (`client`) or the reason it was refused; the attempt is audited."""

    client: Client | None
    refusal: ReplyRefusal | None = None


# How long a relayed message can be answered by replying to it, unless the caller says.
DEFAULT_REPLY_WINDOW = timedelta(days=7)


async def relay_to_client(
    uow: UnitOfWork,
    courier: Courier,
    clock: Clock,
    *,
    staff: Staff,
    staff_chat_id: int,
    reply_to_message_id: int,
    message_id: int,
    text: str | None,
    has_media: bool,
    texts: Catalog | None = None,
    reply_window: timedelta = DEFAULT_REPLY_WINDOW,
    messenger: str = Messenger.TELEGRAM.value,
) -> ReplyOutcome | None:
    """Delivers a staff reply (written in `messenger`) to the client the replied-to message
    came from, in the messenger the client last wrote from.

    None when the message replied to is no relayed message. The staff member's access is
    checked now, against the CRM's current record: a relay mapping is a routing hint, never
    a permission. Delivered or refused, the attempt is audited.
    """
    mapping = await uow.relay.find(
        staff_chat_id=staff_chat_id, message_id=reply_to_message_id, messenger=messenger
    )
    if mapping is None:
        return None
    now = clock.now()
    client = await uow.clients.get(mapping.client_id)
    refusal: ReplyRefusal | None = None
    link = None
    if client is None or client.erased_at_marker:
        refusal = ReplyRefusal.UNREACHABLE
    elif mapping.staff_id != staff.id or not await may_write_to(uow, staff, client):
        refusal = ReplyRefusal.NO_ACCESS
    elif mapping.created_at < now - reply_window:
        refusal = ReplyRefusal.EXPIRED
    else:
        link = await client_reply_link(uow, client.id)
        consent = await uow.consents.current(client.id)
        if link is None or link.blocked_at is not None or consent is None or not consent.active:
            refusal = ReplyRefusal.UNREACHABLE
    # Staff may give a phone number; a card, document or account number typed back to the
    # client (a slip) leaves the bank masked, as every stored text is.
    text, masked = _without_secrets(text)
    if refusal is None and client is not None and link is not None:
        # The language the client chose in the bot wins over the CRM's record.
        t = (texts or default_texts()).translator(link.language or client.language)
        try:
            await _pass_on(
                courier,
                link,
                reader=t,
                header=t("relay.from_manager", staff=staff.full_name),
                separator="\n",
                text=text,
                masked=masked,
                has_media=has_media,
                from_chat_id=staff_chat_id,
                message_id=message_id,
            )
        except RecipientBlocked:
            # The client blocked the bot since they last wrote: the staff member is told so
            # (not an error), and the link is marked as the outbox would.
            await uow.links.mark_blocked(link.chat_id, now=now, messenger=link.messenger)
            refusal = ReplyRefusal.UNREACHABLE
        except RecipientUnreachable:
            # Not now (a failure, no bot for their messenger here): the staff member is told
            # it did not go and may send it again; the attempt is audited like any refusal.
            refusal = ReplyRefusal.UNREACHABLE
    await uow.audit.record(
        now=now,
        action="relay_reply",
        outcome="ok" if refusal is None else "denied",
        actor_staff_id=staff.id,
        subject_client_id=mapping.client_id,
        details={"reply_to": reply_to_message_id, "media": has_media}
        | ({"reason": refusal.value} if refusal else {}),
    )
    if refusal is not None or client is None or link is None:
        return ReplyOutcome(None, refusal or ReplyRefusal.UNREACHABLE)
    await _log_relay(
        uow,
        now=now,
        messenger=messenger,
        actor="staff",
        client_id=client.id,
        staff_id=staff.id,
        text=text,
        payload={
            "reply_to": reply_to_message_id,
            "media": has_media,
            "client_messenger": link.messenger,
        },
    )
    return ReplyOutcome(client)


def _without_secrets(text: str | None) -> tuple[str | None, bool]:
    """The text with card, document and account numbers and codes masked (phones pass), and
    whether anything was masked."""
    masked = mask(text, only=SECRET_KINDS) if text else None
    if masked is not None and masked.found:
        return masked.text, True
    return text, False


async def _pass_on(
    courier: Courier,
    link: MessengerLink,
    *,
    reader: Translator,
    header: str,
    separator: str,
    text: str | None,
    masked: bool,
    has_media: bool,
    from_chat_id: int,
    message_id: int,
) -> list[int]:
    """The one-line card and the message, either way of the relay: one text when the message
    is a text, else the card then a copy of the message. A copied caption is replaced by its
    masked `text` when it held numbers (as written, it is not copied). The message goes
    without a template, so its placeholders are worded for the `reader` here; the
    interaction log keeps the neutral `text`."""
    shown = reader.localize_masks(text) if text else text
    if shown and not has_media:
        return await courier.send_text(link, f"{header}{separator}{html.escape(shown)}")
    ids = await courier.send_text(link, header)
    ids.append(
        await courier.copy(
            to=link,
            from_chat_id=from_chat_id,
            message_id=message_id,
            caption=shown if masked else None,
        )
    )
    return ids


async def _log_relay(
    uow: UnitOfWork,
    *,
    now: datetime,
    messenger: str,
    actor: str,
    client_id: int,
    staff_id: int | None,
    text: str | None,
    payload: dict[str, Any],
) -> None:
    """Either way, a relayed message is one internal interaction of the client's history,
    in the messenger it was written in (the stored text masks on write)."""
    await uow.interactions.record(
        occurred_at=now,
        channel="messenger",
        messenger=messenger,
        direction="internal",
        kind="relay",
        actor=actor,
        client_id=client_id,
        staff_id=staff_id,
        text=text,
        payload=payload,
    )


async def client_reply_link(uow: UnitOfWork, client_id: int) -> MessengerLink | None:
    """Where an answer to the client goes: the messenger they last wrote from (the
    conversation continues where they are), else where messages the bank starts go."""
    last = await uow.interactions.last_messenger(client_id)
    if last is not None:
        link = await uow.links.for_client(client_id, messenger=last)
        if link is not None and link.blocked_at is None:
            return link
    return await uow.links.for_client(client_id)
