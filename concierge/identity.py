"""Who is writing: resolved from the CRM's messenger link, never from a messenger username."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from crm_adapter.dto import Client, LinkedAccount, Messenger, MessengerLink, Role, Staff


class PersonKind(StrEnum):
    CLIENT = "client"
    STAFF = "staff"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Identity:
    user_id: int
    chat_id: int | None
    language: str
    link: MessengerLink | None = None
    client: Client | None = None
    staff: Staff | None = None
    # Active consent to personal-data processing; staff need none.
    consent: bool = False
    # The messenger this person is writing from now (one person may use several).
    messenger: str = Messenger.TELEGRAM.value

    @property
    def kind(self) -> PersonKind:
        if self.client is not None:
            return PersonKind.CLIENT
        if self.staff is not None:
            return PersonKind.STAFF
        return PersonKind.UNKNOWN

    @property
    def client_id(self) -> int | None:
        return self.client.id if self.client else None

    @property
    def staff_id(self) -> int | None:
        return self.staff.id if self.staff else None

    def has_role(self, *roles: Role) -> bool:
        return (
            self.staff is not None
            and self.staff.active
            and any(self.staff.has_role(r) for r in roles)
        )

    @property
    def actor(self) -> str:
        return self.kind.value


def identity_of(
    found: LinkedAccount | None,
    *,
    user_id: int,
    chat_id: int | None,
    default_language: str,
    messenger: str = Messenger.TELEGRAM.value,
) -> Identity:
    """Who the account `found` (None: no link) belongs to, by the CRM's rules: an erased
    client, one the bank's CRM no longer has, or an inactive staff member is nobody the bot
    knows."""
    nobody = Identity(
        user_id=user_id, chat_id=chat_id, language=default_language, messenger=messenger
    )
    if found is None:
        return nobody
    link, client, staff = found.link, found.client, found.staff
    if link.client_id is not None:
        if client is None or client.out_of_service:
            return nobody
        # The same account, now known: everything else of `nobody` stands.
        return replace(
            nobody,
            language=link.language or client.language or default_language,
            link=link,
            client=client,
            consent=found.consent_active,
        )
    if staff is None or not staff.active:
        return nobody
    return replace(
        nobody,
        language=link.language or staff.language or default_language,
        link=link,
        staff=staff,
        consent=True,
    )
