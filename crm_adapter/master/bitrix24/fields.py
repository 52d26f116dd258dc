"""Where a Bitrix24 portal keeps what the assistant reads, and how a record is checked.

Standard fields (contact names, ASSIGNED_BY_ID, users' XML_ID) plus the custom fields a bank
creates for its VIP service (README, "The bank's CRM as master", lists them). A record that
lacks what the assistant cannot do without is skipped with a `Skipped` naming the field; a
malformed optional value (a phone) is left out and logged, the record kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from crm_adapter.master.records import (
    MasterClient,
    MasterHolding,
    MasterLifeEvent,
    MasterStaff,
    Skipped,
    Stream,
)

ROLES = frozenset({"manager", "coordinator", "duty", "admin"})
LANGUAGES = frozenset({"ru", "en"})
# Digits with the usual separators; 10 to 15 digits once they are stripped (E.164).
_PHONE = re.compile(r"^\+?[\d\s()\-]{10,24}$")


@dataclass(frozen=True)
class ContactFields:
    client_id: str = "UF_CRM_VIP_CLIENT_ID"
    language: str = "UF_CRM_VIP_LANGUAGE"
    timezone: str = "UF_CRM_VIP_TIMEZONE"
    financial_segment: str = "UF_CRM_VIP_FIN_SEGMENT"
    values_segment: str = "UF_CRM_VIP_VALUES_SEGMENT"
    client_since: str = "UF_CRM_VIP_CLIENT_SINCE"
    gender: str = "UF_CRM_VIP_GENDER"
    # Written back: the client's consent to personal-data processing (152-FZ).
    consent: str = "UF_CRM_VIP_PD_CONSENT"
    consent_version: str = "UF_CRM_VIP_PD_CONSENT_VERSION"
    consent_at: str = "UF_CRM_VIP_PD_CONSENT_AT"

    def select(self) -> list[str]:
        return [
            "ID",
            "NAME",
            "SECOND_NAME",
            "LAST_NAME",
            "BIRTHDATE",
            "ADDRESS_CITY",
            "POST",
            "ASSIGNED_BY_ID",
            "DATE_MODIFY",
            self.client_id,
            self.language,
            self.timezone,
            self.financial_segment,
            self.values_segment,
            self.client_since,
            self.gender,
        ]


@dataclass(frozen=True)
class UserFields:
    roles: str = "UF_USR_VIP_ROLES"
    backup: str = "UF_USR_VIP_BACKUP"


@dataclass(frozen=True)
class ItemFields:
    """Smart-process item fields (crm.item.* answers in camelCase)."""

    product_type: str = "ufCrmVipProductType"
    rate: str = "ufCrmVipRate"
    opened_on: str = "ufCrmVipOpenedOn"
    matures_on: str = "ufCrmVipMaturesOn"
    expires_on: str = "ufCrmVipExpiresOn"
    status: str = "ufCrmVipStatus"
    life_event_kind: str = "ufCrmVipKind"
    happened_on: str = "ufCrmVipHappenedOn"


CONTACT = ContactFields()
USER = UserFields()
ITEM = ItemFields()


def _text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if isinstance(value, list):  # multiple fields come as lists
        value = value[0] if value else None
    if value is None or isinstance(value, dict | bool):
        return None
    text = str(value).strip()
    return text or None


def _date(value: Any) -> date | None:
    """Bitrix24 sends dates as ISO date-times in the portal's zone; the calendar day is
    their first ten characters."""
    if not value or not isinstance(value, str):
        return None
    return date.fromisoformat(value[:10])


def _moment(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.upper() in {"Y", "1", "TRUE"})


def phone(value: str) -> str | None:
    """The number as +digits, or None when it is not one."""
    if not _PHONE.match(value):
        return None
    digits = re.sub(r"\D", "", value)
    return f"+{digits}" if 10 <= len(digits) <= 15 else None


class Invalid(Exception):
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def _required(record: dict[str, Any], name: str) -> str:
    value = _text(record, name)
    if value is None:
        raise Invalid("missing_field", name)
    return value


def _parsed(parse: Any, value: Any, field: str) -> Any:
    try:
        return parse(value)
    except (ValueError, TypeError, InvalidOperation) as error:
        raise Invalid("malformed_field", field) from error


def user(record: dict[str, Any], warnings: list[Skipped]) -> MasterStaff | Skipped | None:
    """A user as staff; None when the user has no role in the VIP service (not ours)."""
    remote_id = str(record.get("ID", "?"))
    raw_roles = record.get(USER.roles)
    listed = raw_roles if isinstance(raw_roles, list) else str(raw_roles or "").split(",")
    roles = frozenset(str(r).strip().lower() for r in listed if str(r).strip()) & ROLES
    if not roles:
        return None
    try:
        _required(record, "ID")
        last, first = _text(record, "LAST_NAME"), _text(record, "NAME")
        if last is None and first is None:
            raise Invalid("missing_field", "LAST_NAME")
        name = " ".join(p for p in (last, first, _text(record, "SECOND_NAME")) if p)
    except Invalid as bad:
        return Skipped(Stream.STAFF, remote_id, bad.reason, bad.field)
    number = None
    for field in ("WORK_PHONE", "PERSONAL_MOBILE"):
        raw = _text(record, field)
        if raw is None:
            continue
        number = phone(raw)
        if number is None:
            warnings.append(Skipped(Stream.STAFF, remote_id, "malformed_phone", field))
        break
    return MasterStaff(
        remote_id=remote_id,
        external_id=_text(record, "XML_ID") or f"B24U{remote_id}",
        full_name=name,
        roles=roles,
        active=_flag(record.get("ACTIVE", True)),
        backup_remote_id=_text(record, USER.backup),
        timezone=_text(record, "TIME_ZONE"),
        email=_text(record, "EMAIL"),
        phone=number,
    )


def contact(record: dict[str, Any]) -> MasterClient | Skipped:
    remote_id = str(record.get("ID", "?"))
    try:
        _required(record, "ID")
        language = _text(record, CONTACT.language)
        gender = _text(record, CONTACT.gender)
        return MasterClient(
            remote_id=remote_id,
            external_id=_required(record, CONTACT.client_id),
            first_name=_required(record, "NAME"),
            last_name=_required(record, "LAST_NAME"),
            middle_name=_text(record, "SECOND_NAME"),
            manager_remote_id=_text(record, "ASSIGNED_BY_ID"),
            modified_at=_parsed(_moment, record.get("DATE_MODIFY"), "DATE_MODIFY"),
            birthday=_parsed(_date, record.get("BIRTHDATE"), "BIRTHDATE"),
            gender=gender[:1].upper() if gender else None,
            city=_text(record, "ADDRESS_CITY"),
            language=language.lower() if language and language.lower() in LANGUAGES else None,
            timezone=_text(record, CONTACT.timezone),
            financial_segment=_text(record, CONTACT.financial_segment),
            values_segment=_text(record, CONTACT.values_segment),
            occupation=_text(record, "POST"),
            client_since=_parsed(_date, record.get(CONTACT.client_since), CONTACT.client_since),
        )
    except Invalid as bad:
        return Skipped(Stream.CLIENTS, remote_id, bad.reason, bad.field)


def holding(record: dict[str, Any]) -> MasterHolding | Skipped:
    remote_id = str(record.get("id", "?"))
    try:
        _required(record, "id")
        rate = _text(record, ITEM.rate)
        return MasterHolding(
            remote_id=remote_id,
            client_remote_id=_required(record, "contactId"),
            product_type=_required(record, ITEM.product_type),
            name=_required(record, "title"),
            balance=_parsed(Decimal, str(record.get("opportunity") or 0), "opportunity"),
            currency=(_text(record, "currencyId") or "RUB")[:3].upper(),
            modified_at=_parsed(_moment, record.get("updatedTime"), "updatedTime"),
            rate_percent=_parsed(Decimal, rate, ITEM.rate) if rate else None,
            opened_on=_parsed(_date, record.get(ITEM.opened_on), ITEM.opened_on),
            matures_on=_parsed(_date, record.get(ITEM.matures_on), ITEM.matures_on),
            expires_on=_parsed(_date, record.get(ITEM.expires_on), ITEM.expires_on),
            status=_text(record, ITEM.status) or "active",
        )
    except Invalid as bad:
        return Skipped(Stream.HOLDINGS, remote_id, bad.reason, bad.field)


def life_event(record: dict[str, Any]) -> MasterLifeEvent | Skipped:
    remote_id = str(record.get("id", "?"))
    try:
        _required(record, "id")
        return MasterLifeEvent(
            remote_id=remote_id,
            client_remote_id=_required(record, "contactId"),
            kind=_required(record, ITEM.life_event_kind),
            description=_required(record, "title"),
            happened_on=_parsed(_date, record.get(ITEM.happened_on), ITEM.happened_on),
            modified_at=_parsed(_moment, record.get("updatedTime"), "updatedTime"),
        )
    except Invalid as bad:
        return Skipped(Stream.LIFE_EVENTS, remote_id, bad.reason, bad.field)
