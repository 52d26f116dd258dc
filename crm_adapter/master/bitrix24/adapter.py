"""Bitrix24 behind the master-CRM port.

Reading: users are staff (roles and backup in custom fields), contacts are clients (our
external id in a custom field, ASSIGNED_BY_ID the personal manager), two smart processes hold
holdings and life events. Lists are paged by 50 and fetched 50 pages to a `batch`.

Writing, one `batch` per claim: interactions and notes become timeline comments on the
contact, requests become deals (ORIGINATOR_ID/ORIGIN_ID carry ours), their comments timeline
comments on the deal, consent changes custom fields of the contact. Bitrix24 keeps no
idempotency keys, so every comment ends with a marker line holding ours and every deal
carries it in ORIGIN_ID: after a send whose answer was lost, `find_delivered` searches for
them before anything is sent again. Updates (a deal's stage, consent fields) are safe to
repeat and are simply sent again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from common.i18n import DEFAULT_LANGUAGE, Catalog
from crm_adapter.master.bitrix24 import fields
from crm_adapter.master.bitrix24.bbcode import html_to_bbcode, neutral
from crm_adapter.master.bitrix24.rest import (
    MAX_BATCH,
    PAGE,
    Bitrix24Error,
    Bitrix24Rest,
    CommandResult,
    items_of,
)
from crm_adapter.master.records import (
    Chunk,
    CrmEvent,
    CrmUnavailable,
    Deferred,
    Delivered,
    MasterClient,
    MasterHolding,
    MasterLifeEvent,
    MasterStaff,
    Outcome,
    Rejected,
    Skipped,
    WriteKind,
)

ORIGINATOR = "vip-concierge"
T = TypeVar("T")
Command = tuple[str, dict[str, Any]]
# Per-command errors worth another try; any other is the CRM refusing the write.
_TRANSIENT = frozenset({"OPERATION_TIME_LIMIT", "QUERY_LIMIT_EXCEEDED", "OVERLOAD_LIMIT"})
_MAYBE_DONE = frozenset({"INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER"})
_STAGES = {"new": "NEW", "accepted": "PREPARATION", "resolved": "WON", "cancelled": "LOSE"}
# How far before a record's own time its comment may have been created (clock skew).
_LOOKUP_MARGIN = timedelta(days=1)


def marker(key: str) -> str:
    """The last line of every comment we write: our idempotency key, searchable."""
    return f"[{ORIGINATOR}:{key}]"


def _chunks(values: Sequence[T], size: int) -> list[Sequence[T]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class Bitrix24Crm:
    name = "bitrix24"
    reads_master_data = True
    max_batch = MAX_BATCH

    def __init__(
        self,
        rest: Bitrix24Rest,
        *,
        holdings_entity_type_id: int,
        life_events_entity_type_id: int,
        deal_category_id: int = 0,
        language: str = "ru",
        catalog: Catalog | None = None,
    ) -> None:
        self.rest = rest
        self._holdings_type = holdings_entity_type_id
        self._life_events_type = life_events_entity_type_id
        self._category = deal_category_id
        self._language = language
        self._catalog = catalog or Catalog.shared()
        # The labels there are (an interaction kind, a content type or a channel may have
        # none: a kind the bot made up at run time, a system record).
        self._known = self._catalog.keys(language) | self._catalog.keys(DEFAULT_LANGUAGE)

    async def close(self) -> None:
        await self.rest.close()

    # -- reading -------------------------------------------------------------------------

    async def _pages(self, method: str, params: dict[str, Any]) -> AsyncIterator[Chunk[Any]]:
        """Raw items page by page: the first page alone (it tells the total), then up to 50
        pages per `batch` request."""
        try:
            first = await self.rest.page(method, {**params, "start": 0})
        except Bitrix24Error as error:
            # A portal set up otherwise than the settings say (no such smart process, no
            # rights): nothing to read until someone fixes it; the code says what.
            raise CrmUnavailable(f"list:{method}:{_safe_code(error)}") from error
        yield Chunk(first.items, total=first.total)
        start = first.next
        while start is not None:
            if first.total is None:  # no total: one page at a time
                page = await self.rest.page(method, {**params, "start": start})
                yield Chunk(page.items)
                start = page.next
                continue
            starts = list(range(start, first.total, PAGE))[:MAX_BATCH]
            if not starts:
                return
            found = await self.rest.batch(
                [(f"p{s}", method, {**params, "start": s}) for s in starts]
            )
            items: list[Any] = []
            for s in starts:
                result = found[f"p{s}"]
                if result.error is not None:
                    raise CrmUnavailable(f"list:{method}:{result.error.code}")
                items.extend(items_of(result.result))
            yield Chunk(items, total=first.total)
            start = starts[-1] + PAGE if starts[-1] + PAGE < first.total else None

    async def _parsed(
        self,
        method: str,
        params: dict[str, Any],
        parse: Callable[[dict[str, Any]], T | Skipped],
    ) -> AsyncIterator[Chunk[T]]:
        async for raw in self._pages(method, params):
            items: list[T] = []
            skipped: list[Skipped] = []
            for record in raw.items:
                parsed = parse(record) if isinstance(record, dict) else None
                if isinstance(parsed, Skipped):
                    skipped.append(parsed)
                elif parsed is not None:
                    items.append(parsed)
            yield Chunk(items, skipped, raw.total)

    async def staff(self) -> AsyncIterator[Chunk[MasterStaff]]:
        params = {"SORT": "ID", "ORDER": "ASC", "ADMIN_MODE": True}
        async for raw in self._pages("user.get", params):
            items: list[MasterStaff] = []
            skipped: list[Skipped] = []
            for record in raw.items:
                parsed = fields.user(record, skipped) if isinstance(record, dict) else None
                if isinstance(parsed, Skipped):
                    skipped.append(parsed)
                elif parsed is not None:
                    items.append(parsed)
            yield Chunk(items, skipped, raw.total)

    def clients(self, *, since: Any) -> AsyncIterator[Chunk[MasterClient]]:
        params: dict[str, Any] = {
            "select": [*fields.CONTACT.select(), "PHONE"],
            "order": {"ID": "ASC"},
        }
        if since is not None:
            params["filter"] = {">=DATE_MODIFY": since.isoformat()}
        return self._parsed("crm.contact.list", params, fields.contact)

    def _items(self, entity_type: int, since: Any) -> dict[str, Any]:
        # Custom fields of a smart process come only when asked for.
        params: dict[str, Any] = {
            "entityTypeId": entity_type,
            "select": ["*", "uf*"],
            "order": {"id": "ASC"},
        }
        if since is not None:
            params["filter"] = {">=updatedTime": since.isoformat()}
        return params

    def holdings(self, *, since: Any) -> AsyncIterator[Chunk[MasterHolding]]:
        return self._parsed(
            "crm.item.list", self._items(self._holdings_type, since), fields.holding
        )

    def life_events(self, *, since: Any) -> AsyncIterator[Chunk[MasterLifeEvent]]:
        return self._parsed(
            "crm.item.list", self._items(self._life_events_type, since), fields.life_event
        )

    async def client_ids(self) -> set[str]:
        ids: set[str] = set()
        params = {"select": ["ID"], "order": {"ID": "ASC"}}
        async for chunk in self._pages("crm.contact.list", params):
            ids.update(str(r["ID"]) for r in chunk.items if isinstance(r, dict) and "ID" in r)
        return ids

    async def clients_absent(self, remote_ids: Collection[str]) -> set[str]:
        wanted = sorted(set(remote_ids))
        present: set[str] = set()
        for group in _chunks(_chunks(wanted, PAGE), MAX_BATCH):
            found = await self.rest.batch(
                [
                    (f"c{i}", "crm.contact.list", {"filter": {"@ID": list(ids)}, "select": ["ID"]})
                    for i, ids in enumerate(group)
                ]
            )
            for result in found.values():
                if result.error is not None:
                    raise CrmUnavailable(f"absent:{result.error.code}")
                present.update(str(r["ID"]) for r in items_of(result.result))
        return set(wanted) - present

    # -- writing -------------------------------------------------------------------------

    async def write(self, events: Sequence[CrmEvent]) -> list[Outcome]:
        """One `batch` with `halt`: the portal runs the commands in order and stops at the
        first error, so a client's later writes never land before an earlier one; those not
        run are simply tried again next round."""
        outcomes: dict[int, Outcome] = {}
        commands: list[tuple[str, str, dict[str, Any]]] = []
        held: set[str] = set()
        for event in events:
            built = self._command(event) if event.client.external_id not in held else None
            if built is None:
                outcomes[event.write_id] = Deferred("held_back", not_tried=True)
            elif isinstance(built, Deferred | Rejected):
                outcomes[event.write_id] = built
                held.add(event.client.external_id)
            else:
                commands.append((f"w{event.write_id}", *built))
        try:
            found = await self.rest.batch(commands, halt=True) if commands else {}
        except Bitrix24Error as error:
            # The batch as a whole was refused: retried, and in the end a dead letter.
            raise CrmUnavailable(f"batch:{_safe_code(error)}") from error
        for event in events:
            if event.write_id not in outcomes:
                result = found.get(f"w{event.write_id}")
                outcomes[event.write_id] = (
                    self._outcome(event, result)
                    if result is not None
                    else Deferred("halted", not_tried=True)
                )
        return [outcomes[e.write_id] for e in events]

    def _outcome(self, event: CrmEvent, result: CommandResult) -> Outcome:
        if result.error is not None:
            code = _safe_code(result.error)
            if code in _TRANSIENT:
                return Deferred(code)
            if code in _MAYBE_DONE:
                return Deferred(code, uncertain=True)
            return Rejected(code)
        if event.kind in (WriteKind.REQUEST, WriteKind.REQUEST_CHANGE):
            deal = event.data.get("crm_id")
            return Delivered(str(deal) if deal else str(result.result))
        if result.result is True or result.result is None:
            return Delivered(None)
        return Delivered(str(result.result))

    def _t(self, key: str, **values: Any) -> str:
        return self._catalog.template(self._language, f"crm.{key}").format(**values)

    def _label(self, key: str) -> str | None:
        """The text of `crm.<key>` if the locale files have one."""
        return self._t(key) if f"crm.{key}" in self._known else None

    def _when(self, event: CrmEvent) -> str:
        return event.occurred_at.strftime("%Y-%m-%d %H:%M UTC")

    def _staff_name(self, person: dict[str, Any] | None) -> str:
        return str(person["external_id"]) if person else "—"

    def _comment(self, header: str, body: str | None, event: CrmEvent) -> str:
        """`body` is BB-code already made safe (`neutral`, `html_to_bbcode`)."""
        text = body if body else self._t("timeline.empty")
        return f"{header}\n{text}\n{marker(event.key)}"

    def _interaction_what(self, data: dict[str, Any]) -> str:
        """The header's account of an interaction in words: its kind, and where it happened
        (the messenger that carried it when there was one: the bank sees which)."""
        kind = self._label(f"timeline.kind.{data['kind']}")
        if kind is None:
            # Kinds made at run time (a rule's or a reminder's message) are what the bot
            # sent on its own; anything else unnamed is just an event.
            other = "notification" if data["direction"] == "out" else "other"
            kind = self._t(f"timeline.kind.{other}")
        channel = self._label(f"timeline.channel.{data.get('messenger') or data['channel']}")
        return self._t("timeline.what_in", kind=kind, channel=channel) if channel else kind

    def _interaction_body(self, data: dict[str, Any]) -> str | None:
        """What a manager reads under the header: the bot's messages with their formatting
        (stored as Telegram HTML), a press by the button's label, people's words as they
        wrote them, a file by its kind; a record without text by what it was."""
        text = data["text"]
        if data["kind"] == "callback" and data["direction"] == "in":
            # The stored text of a press is its callback data, a code for the bot.
            label = data.get("button")
            if label:
                return self._t("timeline.pressed", button=neutral(label))
            return self._t("timeline.pressed_unknown")
        content = data.get("content")
        file = self._label(f"timeline.content.{content}") if content != "text" else None
        if not text:
            if file is not None:
                return file
            if content == "text" and data["direction"] == "in":
                # A message of a client without consent: the log keeps that it came, never
                # its words (bot.middlewares.keeps_texts).
                return self._t("timeline.text_not_kept")
            return self._label(f"timeline.event.{data['kind']}")
        shown = (
            html_to_bbcode(text)
            if data["direction"] == "out" and data["actor"] == "bot"
            else neutral(text)
        )
        return self._t("timeline.with_content", content=file, text=shown) if file else shown

    def _command(self, event: CrmEvent) -> Command | Deferred | Rejected:
        contact = event.client.remote_id
        data = event.data
        if contact is None:
            # Not (yet) linked by a sync: the write waits for it (and gives up in the end).
            return Deferred("client_not_in_crm")
        if event.kind is WriteKind.INTERACTION:
            header = self._t(
                "timeline.header",
                direction=self._t(f"timeline.direction.{data['direction']}"),
                what=self._interaction_what(data),
                when=self._when(event),
            )
            if data.get("staff"):
                staff = self._staff_name(data["staff"])
                header += " · " + self._t("timeline.by_staff", staff=staff)
            body = self._interaction_body(data)
            return _comment_on("contact", contact, self._comment(header, body, event))
        if event.kind is WriteKind.NOTE:
            header = self._t(
                "timeline.note", author=self._staff_name(data["author"]), when=self._when(event)
            )
            body = neutral(data["text"]) if data["text"] else None
            return _comment_on("contact", contact, self._comment(header, body, event))
        if event.kind is WriteKind.REQUEST_COMMENT:
            header = self._t(
                "timeline.request_comment",
                service=data["service_code"] or "—",
                author=self._staff_name(data["author"]) if data["author"] else data["author_kind"],
                when=self._when(event),
            )
            body = neutral(data["text"] or "")
            if data["has_file"]:
                body = f"{body}\n{self._t('timeline.file_attached')}".strip()
            deal = data.get("request_crm_id")
            comment = self._comment(header, body or None, event)
            if deal:
                return _comment_on("deal", str(deal), comment)
            return _comment_on("contact", contact, comment)
        if event.kind in (WriteKind.REQUEST, WriteKind.REQUEST_CHANGE):
            return self._deal(event, contact)
        return (
            "crm.contact.update",
            {
                "id": contact,
                "fields": {
                    fields.CONTACT.consent: "Y" if data["active"] else "N",
                    fields.CONTACT.consent_version: data["document_version"],
                    fields.CONTACT.consent_at: data["withdrawn_at"] or data["recorded_at"],
                },
            },
        )

    def _deal(self, event: CrmEvent, contact: str) -> Command:
        data = event.data
        stage = _STAGES.get(data["status"], "NEW")
        if self._category:
            stage = f"C{self._category}:{stage}"
        assignee = (data.get("assignee") or {}).get("crm_id")
        state: dict[str, Any] = {"STAGE_ID": stage}
        if assignee:
            state["ASSIGNED_BY_ID"] = assignee
        if data.get("crm_id"):
            return ("crm.deal.update", {"id": data["crm_id"], "fields": state})
        return (
            "crm.deal.add",
            {
                "fields": {
                    **state,
                    "TITLE": self._t(
                        "deal.title", service=data["service_code"], request=data["request_id"]
                    ),
                    "CATEGORY_ID": self._category,
                    "CONTACT_ID": contact,
                    "COMMENTS": neutral(data["summary"] or ""),
                    "ORIGINATOR_ID": ORIGINATOR,
                    "ORIGIN_ID": request_origin(data["request_id"]),
                },
                "params": {"REGISTER_SONET_EVENT": "N"},
            },
        )

    async def find_delivered(self, events: Sequence[CrmEvent]) -> dict[str, str | None]:
        """Searches comments by their marker line and deals by ORIGIN_ID."""
        lookups = self._lookups(events)
        found: dict[str, str | None] = {}
        for group in _chunks(list(lookups.commands.items()), MAX_BATCH):
            try:
                results = await self.rest.batch([(key, *command) for key, command in group])
            except Bitrix24Error as error:
                raise CrmUnavailable(f"lookup:{_safe_code(error)}") from error
            for key, result in results.items():
                if result.error is not None:
                    raise CrmUnavailable(f"lookup:{_safe_code(result.error)}")
                if key in lookups.deals:
                    hits = items_of(result.result)
                    if hits:
                        found[lookups.deals[key].key] = str(hits[0]["ID"])
                    continue
                comments = await self._all_comments(lookups.commands[key], result)
                for event in lookups.comments[key]:
                    hit = _with_marker(comments, marker(event.key))
                    if hit is not None:
                        found[event.key] = hit
        return found

    def _lookups(self, events: Sequence[CrmEvent]) -> _Lookups:
        """One comment list per target entity, one deal search per opened request."""
        lookups = _Lookups()
        for event in events:
            built = self._command(event)
            if isinstance(built, Deferred | Rejected):
                continue
            method, params = built
            if method == "crm.timeline.comment.add":
                target = params["fields"]
                key = f"t{target['ENTITY_TYPE']}{target['ENTITY_ID']}"
                since = (event.occurred_at - _LOOKUP_MARGIN).isoformat()
                lookups.commands.setdefault(
                    key,
                    (
                        "crm.timeline.comment.list",
                        {
                            "filter": {
                                "ENTITY_ID": target["ENTITY_ID"],
                                "ENTITY_TYPE": target["ENTITY_TYPE"],
                                ">=CREATED": since,
                            },
                            "select": ["ID", "COMMENT"],
                        },
                    ),
                )
                lookups.comments.setdefault(key, []).append(event)
            elif method == "crm.deal.add":
                key = f"d{event.write_id}"
                origin = {"ORIGINATOR_ID": ORIGINATOR, "ORIGIN_ID": params["fields"]["ORIGIN_ID"]}
                lookups.commands[key] = ("crm.deal.list", {"filter": origin, "select": ["ID"]})
                lookups.deals[key] = event
        return lookups

    async def _all_comments(self, command: Command, first: CommandResult) -> list[dict[str, Any]]:
        comments = [c for c in items_of(first.result) if isinstance(c, dict)]
        params = command[1]
        start = first.next
        while start is not None:
            page = await self.rest.page("crm.timeline.comment.list", {**params, "start": start})
            comments.extend(c for c in page.items if isinstance(c, dict))
            start = page.next
        return comments


@dataclass
class _Lookups:
    commands: dict[str, Command] = field(default_factory=dict)
    comments: dict[str, list[CrmEvent]] = field(default_factory=dict)
    deals: dict[str, CrmEvent] = field(default_factory=dict)


def _with_marker(comments: list[dict[str, Any]], line: str) -> str | None:
    for comment in comments:
        if str(comment.get("COMMENT", "")).rstrip().endswith(line):
            return str(comment["ID"])
    return None


def request_origin(request_id: int) -> str:
    """The ORIGIN_ID of a request's deal: one deal per request, whichever write made it."""
    return f"request:{request_id}"


def _comment_on(entity_type: str, entity_id: str, comment: str) -> Command:
    return (
        "crm.timeline.comment.add",
        {"fields": {"ENTITY_ID": entity_id, "ENTITY_TYPE": entity_type, "COMMENT": comment}},
    )


def _safe_code(error: Bitrix24Error) -> str:
    """An error code fit for the dead-letter list: Bitrix24's code, never its description
    (which may quote the record's values)."""
    if error.code and error.code.isascii() and " " not in error.code and len(error.code) < 48:
        return error.code.upper()
    if error.description.strip().lower() == "not found":
        return "NOT_FOUND"
    return "REJECTED"
