"""The records of a Bitrix24 stand-in portal and the methods that read and change them.

In memory: users, contacts, smart-process items, deals and timeline comments, each with the
fields Bitrix24 answers with (upper case for users, contacts, deals and comments; camelCase
for crm.item.*). List methods page by 50 and filter with Bitrix24's prefixes (`>=`, `>`, `<=`,
`<`, `@` for "one of", `!` for "not"). A method's own errors are raised as `MethodError`
with Bitrix24's code and description. Seeding takes a bank from a store (`seed_from_store`)
or makes a synthetic one (`seed_synthetic`).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

PAGE = 50
PORTAL_ZONE = timezone(timedelta(hours=3))
MARKER_PREFIX = "[vip-concierge:"


class MethodError(Exception):
    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


def portal_time(moment: datetime | None = None) -> str:
    """A date-time as the portal writes it: ISO with the portal's offset, whole seconds."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(PORTAL_ZONE).replace(microsecond=0).isoformat()


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value) if "T" in value else float(value)
        except ValueError:
            return value
    if isinstance(value, int | float | Decimal):
        return float(value)
    return value


def _matches(record: dict[str, Any], filters: dict[str, Any]) -> bool:
    for raw_key, wanted in filters.items():
        key = str(raw_key)
        for op in (">=", "<=", "!=", ">", "<", "@", "!", "="):
            if key.startswith(op):
                name = key[len(op) :]
                break
        else:
            op, name = "=", key
        value = record.get(name)
        if op == "@" or isinstance(wanted, list):
            options = {str(w) for w in (wanted if isinstance(wanted, list) else [wanted])}
            hit = str(value) in options
            if not (hit if op != "!" else not hit):
                return False
            continue
        if not _compare(op, value, wanted):
            return False
    return True


def _compare(op: str, value: Any, wanted: Any) -> bool:
    if op in ("=", "!", "!="):
        equal = str(value) == str(wanted)
        return equal if op == "=" else not equal
    left, right = _comparable(value), _comparable(wanted)
    if left is None or value == "":
        return False
    try:
        if op == ">=":
            return bool(left >= right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left < right)
    except TypeError:
        return False


def _select(record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if not fields or "*" in fields:
        return dict(record)
    return {f: record[f] for f in fields if f in record}


class Portal:
    """One portal's data; `call(method, params)` runs a REST method on it."""

    def __init__(self) -> None:
        self.users: dict[int, dict[str, Any]] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.items: dict[int, dict[int, dict[str, Any]]] = {}
        self.deals: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        # A list is filtered once per change of the portal, not once per page.
        self._version = 0
        self._filtered: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
        # Every comment and deal we were sent, by the idempotency key it carries.
        self.written: Counter[str] = Counter()

    def next_id(self) -> int:
        return next(self._ids)

    # -- methods ---------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The answer body of a method: `{"result", "total", "next"}` for lists."""
        handler = self._methods().get(method)
        if handler is None:
            raise MethodError("ERROR_METHOD_NOT_FOUND", "Method not found!", status=404)
        if not method.endswith((".list", ".get")):
            self._version += 1
        return handler(params)

    def _matching(
        self, table: dict[int, dict[str, Any]], filters: dict[str, Any]
    ) -> list[dict[str, Any]]:
        key = (id(table), repr(sorted(filters.items())), self._version)
        found = self._filtered.get(key)
        if found is None:
            if len(self._filtered) > 64:
                self._filtered.clear()
            found = [r for _i, r in sorted(table.items()) if _matches(r, filters)]
            self._filtered[key] = found
        return found

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "user.get": self._user_get,
            "crm.contact.list": lambda p: self._list(self.contacts, p),
            "crm.contact.get": lambda p: {"result": self._get(self.contacts, p)},
            "crm.contact.add": lambda p: {"result": self._add(self.contacts, p)},
            "crm.contact.update": lambda p: {"result": self._update(self.contacts, p)},
            "crm.contact.delete": lambda p: {"result": self._delete(self.contacts, p)},
            "crm.item.list": self._item_list,
            "crm.deal.list": lambda p: self._list(self.deals, p),
            "crm.deal.get": lambda p: {"result": self._get(self.deals, p)},
            "crm.deal.add": self._deal_add,
            "crm.deal.update": lambda p: {"result": self._update(self.deals, p)},
            "crm.timeline.comment.add": self._comment_add,
            "crm.timeline.comment.list": self._comment_list,
        }

    def _page(
        self, records: list[dict[str, Any]], params: dict[str, Any], *, fields: list[str] | None
    ) -> dict[str, Any]:
        start = max(int(params.get("start") or 0), 0)
        page = [_select(r, fields) for r in records[start : start + PAGE]]
        body: dict[str, Any] = {"result": page, "total": len(records)}
        if start + PAGE < len(records):
            body["next"] = start + PAGE
        return body

    def _list(self, table: dict[int, dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        records = self._matching(table, params.get("filter") or {})
        return self._page(records, params, fields=params.get("select"))

    def _user_get(self, params: dict[str, Any]) -> dict[str, Any]:
        filters = params.get("FILTER") or params.get("filter") or {}
        records = [r for _i, r in sorted(self.users.items()) if _matches(r, filters)]
        return self._page(records, params, fields=None)

    def _item_list(self, params: dict[str, Any]) -> dict[str, Any]:
        entity_type = int(params.get("entityTypeId") or 0)
        if entity_type not in self.items:
            raise MethodError("NOT_FOUND", "Smart process not found")
        records = self._matching(self.items[entity_type], params.get("filter") or {})
        body = self._page(records, params, fields=params.get("select"))
        body["result"] = {"items": body["result"]}
        return body

    def _get(self, table: dict[int, dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        record = table.get(int(params.get("id") or params.get("ID") or 0))
        if record is None:
            raise MethodError("", "Not found")
        return dict(record)

    def _add(self, table: dict[int, dict[str, Any]], params: dict[str, Any]) -> int:
        fields = dict(params.get("fields") or {})
        new_id = self.next_id()
        stamp = portal_time(self.now())
        table[new_id] = {**fields, "ID": str(new_id), "DATE_CREATE": stamp, "DATE_MODIFY": stamp}
        return new_id

    def _update(self, table: dict[int, dict[str, Any]], params: dict[str, Any]) -> bool:
        record = table.get(int(params.get("id") or 0))
        if record is None:
            raise MethodError("", "Not found")
        record.update(params.get("fields") or {})
        record["DATE_MODIFY"] = portal_time(self.now())
        return True

    def _delete(self, table: dict[int, dict[str, Any]], params: dict[str, Any]) -> bool:
        if table.pop(int(params.get("id") or 0), None) is None:
            raise MethodError("", "Not found")
        return True

    def _deal_add(self, params: dict[str, Any]) -> dict[str, Any]:
        fields = params.get("fields") or {}
        if not fields.get("TITLE"):
            raise MethodError("", "Required fields are not filled: TITLE")
        contact = fields.get("CONTACT_ID")
        if contact and int(contact) not in self.contacts:
            raise MethodError("", "Not found")
        new_id = self._add(self.deals, params)
        if fields.get("ORIGIN_ID"):
            self.written[f"deal:{fields['ORIGIN_ID']}"] += 1
        return {"result": new_id}

    def _comment_add(self, params: dict[str, Any]) -> dict[str, Any]:
        fields = params.get("fields") or {}
        entity_type = str(fields.get("ENTITY_TYPE", "")).lower()
        entity_id = int(fields.get("ENTITY_ID") or 0)
        table = {"contact": self.contacts, "deal": self.deals}.get(entity_type)
        if table is None or not fields.get("COMMENT"):
            raise MethodError("", "Required fields are not filled")
        if entity_id not in table:
            raise MethodError("", "Not found")
        new_id = self.next_id()
        comment = str(fields["COMMENT"])
        self.comments[new_id] = {
            "ID": str(new_id),
            "ENTITY_TYPE": entity_type,
            "ENTITY_ID": str(entity_id),
            "COMMENT": comment,
            "CREATED": portal_time(self.now()),
        }
        last = comment.rstrip().rsplit("\n", 1)[-1]
        if last.startswith(MARKER_PREFIX):
            self.written[last[len(MARKER_PREFIX) : -1]] += 1
        return {"result": new_id}

    def _comment_list(self, params: dict[str, Any]) -> dict[str, Any]:
        filters = dict(params.get("filter") or {})
        if "ENTITY_ID" not in filters or "ENTITY_TYPE" not in filters:
            raise MethodError("", "ENTITY_ID and ENTITY_TYPE are required in the filter")
        filters["ENTITY_TYPE"] = str(filters["ENTITY_TYPE"]).lower()
        records = [r for _i, r in sorted(self.comments.items()) if _matches(r, filters)]
        return self._page(records, params, fields=params.get("select"))

    # -- looking at it (tests, the bench, the README's check) ------------------------------

    def timeline(self, contact_id: int) -> list[dict[str, Any]]:
        return [
            c
            for c in self.comments.values()
            if c["ENTITY_TYPE"] == "contact" and c["ENTITY_ID"] == str(contact_id)
        ]

    def duplicates(self) -> dict[str, int]:
        return {key: n for key, n in self.written.items() if n > 1}

    def contact_by_client_id(self, external_id: str) -> dict[str, Any]:
        return next(
            c for c in self.contacts.values() if c.get("UF_CRM_VIP_CLIENT_ID") == external_id
        )

    def user_by_staff_id(self, external_id: str) -> dict[str, Any]:
        return next(u for u in self.users.values() if u.get("XML_ID") == external_id)

    def touch(self, record: dict[str, Any]) -> None:
        record["DATE_MODIFY"] = portal_time(self.now())

    def restamp(self, moment: datetime) -> None:
        """Every record last changed at `moment` (a portal copied into a test's time)."""
        stamp = portal_time(moment)
        for table in (self.contacts, self.deals):
            for record in table.values():
                record["DATE_MODIFY"] = stamp
        for items in self.items.values():
            for item in items.values():
                item["updatedTime"] = stamp

    # -- seeding ---------------------------------------------------------------------------

    def add_user(self, **fields: Any) -> dict[str, Any]:
        new_id = self.next_id()
        user = {"ID": str(new_id), "ACTIVE": True, **fields}
        self.users[new_id] = user
        return user

    def add_contact(self, **fields: Any) -> dict[str, Any]:
        new_id = self.next_id()
        stamp = portal_time(self.now())
        contact = {"ID": str(new_id), "DATE_CREATE": stamp, "DATE_MODIFY": stamp, **fields}
        self.contacts[new_id] = contact
        return contact

    def add_item(self, entity_type: int, **fields: Any) -> dict[str, Any]:
        new_id = self.next_id()
        item = {"id": new_id, "updatedTime": portal_time(self.now()), **fields}
        self.items.setdefault(entity_type, {})[new_id] = item
        return item


def _iso_day(day: date | None) -> str:
    return f"{day.isoformat()}T00:00:00+03:00" if day else ""


def _names(full_name: str) -> dict[str, str]:
    parts = full_name.split()
    return {
        "LAST_NAME": parts[0] if parts else "",
        "NAME": parts[1] if len(parts) > 1 else "",
        "SECOND_NAME": " ".join(parts[2:]),
    }


async def seed_from_store(
    portal: Portal, engine: AsyncEngine, *, holdings_type: int, life_events_type: int
) -> None:
    """The bank of a store (the demo bank, loaded by `crm_adapter.demo.loader`) as a portal's
    records."""
    from crm_adapter import models as m

    portal.items.setdefault(holdings_type, {})
    portal.items.setdefault(life_events_type, {})
    async with AsyncSession(engine) as session:
        staff = (await session.scalars(select(m.StaffRow).order_by(m.StaffRow.id))).all()
        clients = (await session.scalars(select(m.ClientRow).order_by(m.ClientRow.id))).all()
        holdings = (await session.scalars(select(m.ProductHoldingRow))).all()
        events = (await session.scalars(select(m.LifeEventRow))).all()
    portal.add_user(NAME="Интеграция", LAST_NAME="VIP", XML_ID="integration")
    users = {
        s.id: portal.add_user(
            XML_ID=s.external_id,
            **_names(s.full_name),
            EMAIL=s.email or "",
            WORK_PHONE=s.phone or "",
            ACTIVE=s.active,
            TIME_ZONE=s.timezone,
            UF_USR_VIP_ROLES=s.roles,
        )
        for s in staff
    }
    for s in staff:
        if s.backup_id is not None:
            users[s.id]["UF_USR_VIP_BACKUP"] = users[s.backup_id]["ID"]
    contacts: dict[int, dict[str, Any]] = {}
    for c in clients:
        contacts[c.id] = portal.add_contact(
            NAME=c.first_name,
            SECOND_NAME=c.middle_name or "",
            LAST_NAME=c.last_name,
            BIRTHDATE=_iso_day(c.birthday),
            ADDRESS_CITY=c.city or "",
            POST=c.occupation or "",
            ASSIGNED_BY_ID=users[c.manager_id]["ID"] if c.manager_id else users[staff[0].id]["ID"],
            UF_CRM_VIP_CLIENT_ID=c.external_id,
            UF_CRM_VIP_LANGUAGE=c.language,
            UF_CRM_VIP_TIMEZONE=c.timezone,
            UF_CRM_VIP_FIN_SEGMENT=c.financial_segment or "",
            UF_CRM_VIP_VALUES_SEGMENT=c.values_segment or "",
            UF_CRM_VIP_GENDER=c.gender or "",
            UF_CRM_VIP_CLIENT_SINCE=_iso_day(c.client_since),
            PHONE=[{"VALUE": f"+7 495 {c.id:03d}-00-00", "VALUE_TYPE": "WORK"}],
        )
    for h in holdings:
        portal.add_item(
            holdings_type,
            contactId=int(contacts[h.client_id]["ID"]),
            title=h.name,
            opportunity=float(h.balance),
            currencyId=h.currency,
            ufCrmVipProductType=h.product_type,
            ufCrmVipRate=float(h.rate_percent) if h.rate_percent is not None else None,
            ufCrmVipOpenedOn=_iso_day(h.opened_on),
            ufCrmVipMaturesOn=_iso_day(h.matures_on),
            ufCrmVipExpiresOn=_iso_day(h.expires_on),
            ufCrmVipStatus=h.status,
        )
    for e in events:
        portal.add_item(
            life_events_type,
            contactId=int(contacts[e.client_id]["ID"]),
            title=e.description,
            ufCrmVipKind=e.kind,
            ufCrmVipHappenedOn=_iso_day(e.happened_on),
        )


_FIRST = ("Иван", "Пётр", "Алексей", "Сергей", "Дмитрий", "Анна", "Мария", "Елена", "Ольга")
_LAST = ("Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Волков", "Попов", "Лебедев")
_PRODUCTS = ("deposit", "brokerage", "trust", "insurance_life", "premium_card", "mutual_fund")


def seed_synthetic(
    portal: Portal,
    *,
    clients: int,
    managers: int = 40,
    holdings_per_client: int = 3,
    life_events_per_client: int = 1,
    holdings_type: int = 1032,
    life_events_type: int = 1036,
    seed: int = 7,
) -> None:
    """A bank of `clients` clients served by `managers` managers, for the benchmark."""
    rng = random.Random(seed)
    portal.items.setdefault(holdings_type, {})
    portal.items.setdefault(life_events_type, {})
    staff = [
        portal.add_user(
            XML_ID=f"S-{i:04d}",
            NAME=rng.choice(_FIRST),
            LAST_NAME=rng.choice(_LAST),
            UF_USR_VIP_ROLES="manager",
            WORK_PHONE=f"+7 495 {i:03d}-10-10",
        )
        for i in range(1, managers + 1)
    ]
    for i in range(1, clients + 1):
        contact = portal.add_contact(
            NAME=rng.choice(_FIRST),
            LAST_NAME=rng.choice(_LAST),
            SECOND_NAME="",
            BIRTHDATE=_iso_day(date(1950 + i % 50, 1 + i % 12, 1 + i % 28)),
            ADDRESS_CITY="Москва",
            ASSIGNED_BY_ID=staff[i % managers]["ID"],
            UF_CRM_VIP_CLIENT_ID=f"C-{i:05d}",
            UF_CRM_VIP_LANGUAGE="ru",
            UF_CRM_VIP_FIN_SEGMENT="stable_keeper",
            PHONE=[{"VALUE": f"+7 916 {i:07d}", "VALUE_TYPE": "MOBILE"}],
        )
        for k in range(holdings_per_client):
            portal.add_item(
                holdings_type,
                contactId=int(contact["ID"]),
                title=f"Продукт {k + 1}",
                opportunity=rng.randrange(1_000_000, 300_000_000),
                currencyId="RUB",
                ufCrmVipProductType=_PRODUCTS[(i + k) % len(_PRODUCTS)],
                ufCrmVipStatus="active",
            )
        for _k in range(life_events_per_client):
            portal.add_item(
                life_events_type,
                contactId=int(contact["ID"]),
                title="Планирует покупку дома",
                ufCrmVipKind="property_purchase",
            )
