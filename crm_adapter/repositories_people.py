"""SQLAlchemy repositories of the CRM port's people part (`port/people.py`): staff, clients,
messenger links and their codes, consent, the audit trail. They flush but never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_adapter import models as m
from crm_adapter.dto import (
    AuditEntry,
    Client,
    Consent,
    LinkCode,
    LinkedAccount,
    Messenger,
    MessengerLink,
    Role,
    Staff,
)
from crm_adapter.master.queue import enqueue
from crm_adapter.master.records import WriteKind
from crm_adapter.update_ledger_statements import ACCOUNT_QUERY, linked_account

# Client fields a client or staff may change through the assistant; anything else is refused.
EDITABLE_CLIENT_FIELDS = frozenset(
    {
        "language",
        "timezone",
        "preferred_channel",
        "quiet_start",
        "quiet_end",
        "do_not_disturb",
        "marketing_opt_out",
        "erased_at",
        "card_data_warned_at",
    }
)


_STAFF_TABLE = cast(Table, m.StaffRow.__table__)
_CLIENT_TABLE = cast(Table, m.ClientRow.__table__)
_STAFF_BY_ID = select(_STAFF_TABLE).where(_STAFF_TABLE.c.id == bindparam("id"))
_CLIENT_BY_ID = select(_CLIENT_TABLE).where(_CLIENT_TABLE.c.id == bindparam("id"))


async def _row_by_id(
    session: AsyncSession, query: Select[Any], row_id: int
) -> dict[str, Any] | None:
    """One row as column -> value, read with a Core statement.

    Staff and clients by id are read on most updates (whose manager, who answers now), and
    `Session.get` spent most of such a read in the ORM's loading machinery; their DTOs take
    the columns as they are. A Core read does not flush the session first, so pending
    changes are flushed here (repositories flush their own writes at once anyway).
    """
    if session.new or session.dirty or session.deleted:
        await session.flush()
    row = (await session.execute(query, {"id": row_id})).mappings().first()
    return dict(row) if row is not None else None


class SqlStaffRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, staff_id: int) -> Staff | None:
        row = await _row_by_id(self._s, _STAFF_BY_ID, staff_id)
        return Staff.model_validate(row) if row else None

    async def by_external_id(self, external_id: str) -> Staff | None:
        row = await self._s.scalar(select(m.StaffRow).where(m.StaffRow.external_id == external_id))
        return Staff.model_validate(row) if row else None

    async def with_role(self, role: Role) -> list[Staff]:
        # Roles are one comma-separated column: the database narrows by the whole word (so a
        # bank with thousands of staff is not read whole), the DTO then checks exactly.
        listed = literal(",") + func.replace(m.StaffRow.roles, " ", "") + literal(",")
        rows = await self._s.scalars(
            select(m.StaffRow)
            .where(m.StaffRow.active.is_(True), listed.like(f"%,{role.value},%"))
            .order_by(m.StaffRow.id)
        )
        return [s for s in (Staff.model_validate(r) for r in rows) if s.has_role(role)]

    async def backed_up_by(self, staff_id: int) -> list[Staff]:
        rows = await self._s.scalars(select(m.StaffRow).where(m.StaffRow.backup_id == staff_id))
        return [Staff.model_validate(r) for r in rows]

    async def set_absent(self, staff_id: int, *, absent: bool) -> None:
        await self._s.execute(
            update(m.StaffRow).where(m.StaffRow.id == staff_id).values(absent=absent)
        )


class SqlClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, client_id: int) -> Client | None:
        row = await _row_by_id(self._s, _CLIENT_BY_ID, client_id)
        return Client.model_validate(row) if row else None

    async def by_external_id(self, external_id: str) -> Client | None:
        row = await self._s.scalar(
            select(m.ClientRow).where(m.ClientRow.external_id == external_id)
        )
        return Client.model_validate(row) if row else None

    async def for_managers(self, manager_ids: list[int]) -> list[Client]:
        rows = await self._s.scalars(
            select(m.ClientRow)
            .where(m.ClientRow.manager_id.in_(manager_ids))
            .order_by(m.ClientRow.last_name, m.ClientRow.first_name)
        )
        return [Client.model_validate(r) for r in rows]

    async def all(self) -> list[Client]:
        rows = await self._s.scalars(select(m.ClientRow).order_by(m.ClientRow.id))
        return [Client.model_validate(r) for r in rows]

    async def update_preferences(self, client_id: int, **changes: Any) -> Client:
        unknown = set(changes) - EDITABLE_CLIENT_FIELDS
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        row = await self._s.get(m.ClientRow, client_id)
        if row is None:
            raise LookupError(client_id)
        for key, value in changes.items():
            setattr(row, key, value)
        await self._s.flush()
        return Client.model_validate(row)


class SqlLinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session
        # Set once an account is (re)bound in this unit of work: the update middleware then
        # looks the chat's owner up again instead of trusting the identity it started with.
        self.bound = False

    async def _one(self, *where: Any) -> MessengerLink | None:
        row = await self._s.scalar(select(m.MessengerLinkRow).where(*where))
        return MessengerLink.model_validate(row) if row else None

    async def by_user(
        self, user_id: int, *, messenger: str = Messenger.TELEGRAM.value
    ) -> MessengerLink | None:
        return await self._one(
            m.MessengerLinkRow.messenger == messenger, m.MessengerLinkRow.user_id == user_id
        )

    async def with_owner(
        self, user_id: int, *, messenger: str = Messenger.TELEGRAM.value
    ) -> LinkedAccount | None:
        # One query instead of three; the update middleware runs the same one through the
        # ledger (crm_adapter.update_ledger) for every update.
        found = await self._s.execute(ACCOUNT_QUERY, {"user_id": user_id, "messenger": messenger})
        row = found.first()
        return linked_account(row._mapping) if row is not None else None

    async def _of_owner(self, owner: Any, messenger: str | None) -> MessengerLink | None:
        """The owner's link in `messenger`; without one, the link for messages the bank
        starts: a working one first, then the preferred, then the one linked last."""
        query = select(m.MessengerLinkRow).where(owner)
        if messenger is not None:
            query = query.where(m.MessengerLinkRow.messenger == messenger)
        row = await self._s.scalar(
            query.order_by(
                m.MessengerLinkRow.blocked_at.is_not(None),
                m.MessengerLinkRow.preferred.desc(),
                m.MessengerLinkRow.linked_at.desc(),
                m.MessengerLinkRow.id.desc(),
            ).limit(1)
        )
        return MessengerLink.model_validate(row) if row else None

    async def for_client(
        self, client_id: int, *, messenger: str | None = None
    ) -> MessengerLink | None:
        return await self._of_owner(m.MessengerLinkRow.client_id == client_id, messenger)

    async def for_staff(
        self, staff_id: int, *, messenger: str | None = None
    ) -> MessengerLink | None:
        return await self._of_owner(m.MessengerLinkRow.staff_id == staff_id, messenger)

    async def all_for_client(self, client_id: int) -> list[MessengerLink]:
        rows = await self._s.scalars(
            select(m.MessengerLinkRow)
            .where(m.MessengerLinkRow.client_id == client_id)
            .order_by(m.MessengerLinkRow.messenger)
        )
        return [MessengerLink.model_validate(r) for r in rows]

    async def bind(
        self,
        *,
        user_id: int,
        chat_id: int,
        client_id: int | None,
        staff_id: int | None,
        now: datetime,
        language: str | None,
        messenger: str = Messenger.TELEGRAM.value,
    ) -> MessengerLink:
        self.bound = True
        # One account per person and messenger: re-linking in a messenger moves the binding
        # there, never duplicates it; an account in the other messenger stays linked.
        owner = (
            m.MessengerLinkRow.client_id == client_id
            if client_id is not None
            else m.MessengerLinkRow.staff_id == staff_id
        )
        for old in await self._s.scalars(
            select(m.MessengerLinkRow).where(
                m.MessengerLinkRow.messenger == messenger,
                owner | (m.MessengerLinkRow.user_id == user_id),
            )
        ):
            await self._s.delete(old)
        await self._s.flush()
        row = m.MessengerLinkRow(
            messenger=messenger,
            user_id=user_id,
            chat_id=chat_id,
            client_id=client_id,
            staff_id=staff_id,
            linked_at=now,
            language=language,
            preferred=False,
        )
        self._s.add(row)
        await self._s.flush()
        return MessengerLink.model_validate(row)

    async def set_language(self, link_id: int, language: str) -> None:
        """The language of the link's owner, in every messenger they linked."""
        row = await self._s.get(m.MessengerLinkRow, link_id)
        if row is None:
            return
        if row.client_id is not None:
            owner = m.MessengerLinkRow.client_id == row.client_id
        elif row.staff_id is not None:
            owner = m.MessengerLinkRow.staff_id == row.staff_id
        else:
            owner = m.MessengerLinkRow.id == link_id
        await self._s.execute(
            update(m.MessengerLinkRow)
            .where(owner)
            .values(language=language)
            .execution_options(synchronize_session="fetch")
        )

    async def prefer(self, client_id: int, messenger: str) -> bool:
        """Makes `messenger` the client's channel for messages the bank starts; False when the
        client has no account there."""
        mine = m.MessengerLinkRow.client_id == client_id
        chosen = await self._s.scalar(
            select(m.MessengerLinkRow.id).where(mine, m.MessengerLinkRow.messenger == messenger)
        )
        if chosen is None:
            return False
        await self._s.execute(
            update(m.MessengerLinkRow)
            .where(mine)
            .values(preferred=m.MessengerLinkRow.id == chosen)
            .execution_options(synchronize_session="fetch")
        )
        return True

    async def mark_unblocked(
        self, chat_id: int, *, messenger: str = Messenger.TELEGRAM.value
    ) -> None:
        link = m.MessengerLinkRow
        await self._s.execute(
            update(link)
            .where(link.messenger == messenger, link.chat_id == chat_id)
            .values(blocked_at=None)
        )

    async def mark_blocked(
        self, chat_id: int, *, now: datetime, messenger: str = Messenger.TELEGRAM.value
    ) -> None:
        link = m.MessengerLinkRow
        await self._s.execute(
            update(link)
            .where(link.messenger == messenger, link.chat_id == chat_id)
            .values(blocked_at=now)
        )


class SqlLinkCodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(
        self,
        *,
        code_hash: str,
        client_id: int | None,
        staff_id: int | None,
        now: datetime,
        expires_at: datetime,
    ) -> LinkCode:
        row = m.LinkCodeRow(
            code_hash=code_hash,
            client_id=client_id,
            staff_id=staff_id,
            created_at=now,
            expires_at=expires_at,
        )
        self._s.add(row)
        await self._s.flush()
        return LinkCode.model_validate(row)

    async def by_hash(self, code_hash: str) -> LinkCode | None:
        row = await self._s.scalar(
            select(m.LinkCodeRow).where(m.LinkCodeRow.code_hash == code_hash)
        )
        return LinkCode.model_validate(row) if row else None

    async def claim(self, code_id: int, *, user_id: int, now: datetime) -> bool:
        # Conditional update: of two concurrent claims only one sees used_at still empty.
        result = await self._s.execute(
            update(m.LinkCodeRow)
            .where(m.LinkCodeRow.id == code_id, m.LinkCodeRow.used_at.is_(None))
            .values(used_at=now, used_by_user_id=user_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class SqlConsentRepository:
    def __init__(self, session: AsyncSession, *, write_back: bool = False) -> None:
        self._s = session
        self._write_back = write_back

    async def current(self, client_id: int, *, purpose: str = "personal_data") -> Consent | None:
        row = await self._s.scalar(
            select(m.ConsentRow)
            .where(m.ConsentRow.client_id == client_id, m.ConsentRow.purpose == purpose)
            .order_by(m.ConsentRow.recorded_at.desc(), m.ConsentRow.id.desc())
            .limit(1)
        )
        return Consent.model_validate(row) if row else None

    async def record(
        self,
        *,
        client_id: int,
        granted: bool,
        document_version: str,
        channel: str,
        now: datetime,
        purpose: str = "personal_data",
    ) -> Consent:
        row = m.ConsentRow(
            client_id=client_id,
            purpose=purpose,
            document_version=document_version,
            granted=granted,
            channel=channel,
            recorded_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        if self._write_back:
            await enqueue(
                self._s, WriteKind.CONSENT, entity_id=row.id, client_id=client_id, now=now
            )
        return Consent.model_validate(row)

    async def withdraw(self, client_id: int, *, now: datetime) -> None:
        withdrawn = await self._s.scalars(
            update(m.ConsentRow)
            .where(m.ConsentRow.client_id == client_id, m.ConsentRow.withdrawn_at.is_(None))
            .values(withdrawn_at=now)
            .returning(m.ConsentRow.id)
        )
        if self._write_back:
            for consent_id in sorted(withdrawn):
                await enqueue(
                    self._s,
                    WriteKind.CONSENT,
                    entity_id=consent_id,
                    client_id=client_id,
                    now=now,
                    repeatable=True,
                )


class SqlAuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def record(
        self,
        *,
        now: datetime,
        action: str,
        outcome: str = "ok",
        actor_staff_id: int | None = None,
        actor_client_id: int | None = None,
        actor_user_id: int | None = None,
        subject_client_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self._s.add(
            m.AuditEntryRow(
                occurred_at=now,
                action=action,
                outcome=outcome,
                actor_staff_id=actor_staff_id,
                actor_client_id=actor_client_id,
                actor_user_id=actor_user_id,
                subject_client_id=subject_client_id,
                details=details,
            )
        )
        await self._s.flush()

    async def count(self, *, action: str, actor_staff_id: int, since: datetime) -> int:
        return int(
            await self._s.scalar(
                select(func.count()).where(
                    m.AuditEntryRow.action == action,
                    m.AuditEntryRow.actor_staff_id == actor_staff_id,
                    m.AuditEntryRow.occurred_at >= since,
                )
            )
            or 0
        )

    async def recent(self, *, limit: int = 50) -> list[AuditEntry]:
        rows = await self._s.scalars(
            select(m.AuditEntryRow).order_by(m.AuditEntryRow.id.desc()).limit(limit)
        )
        return [AuditEntry.model_validate(r) for r in rows]
