"""Drives the staff web desk over real HTTP (aiohttp's test server) as a signed-in person."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from common.clock import Clock
from concierge.contact_policy import ContactPolicy
from concierge.desk_login import DeskPolicy, issue_login
from crm_adapter import models as m
from crm_adapter.sql import SqlCrm
from scheduler.outbox import OutboxNotifier
from tests.factories import MiniBank
from tests.harness import BotHarness

CLIENT, MANAGER, BACKUP, COORDINATOR, ADMIN, DUTY = 7201, 8201, 8202, 8203, 8204, 8205

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
NONCE = re.compile(r'name="nonce" value="([^"]+)"')


def outbox_notifier(crm: SqlCrm, clock: Clock) -> OutboxNotifier:
    """What every desk process uses: messages queue in the page's own transaction."""
    return OutboxNotifier(crm, clock, ContactPolicy())


async def queued_texts(crm: SqlCrm, *, client_id: int) -> list[str]:
    """Texts queued in the outbox for a client, oldest first."""
    from sqlalchemy import select

    async with crm.unit_of_work() as uow:
        rows = await uow.session.scalars(
            select(m.OutboxMessageRow.text)
            .where(m.OutboxMessageRow.client_id == client_id)
            .order_by(m.OutboxMessageRow.id)
        )
        return list(rows)


async def new_request(
    harness: BotHarness, bank: MiniBank, *, summary: str, urgent: bool = False
) -> int:
    """A cash-delivery request of the bank's client, booked by the real use case."""
    from concierge.requests import create_request

    async with harness.job_unit() as uow:
        client = await uow.clients.get(bank.client_id)
        assert client is not None
        receipt = await create_request(
            uow,
            harness.app.notifier,
            harness.clock,
            client=client,
            service_code="cash_delivery",
            summary=summary,
            red_button=urgent,
        )
        await uow.commit()
    return receipt.request.id


async def client_accepts(harness: BotHarness, bank: MiniBank, event_id: int) -> tuple[int, str]:
    """The client accepts the event's invitation, as the RSVP button does; returns the
    invitation id and the check-in code of the confirmation."""
    from common.i18n import Catalog
    from concierge.events.rsvp import Rsvp, answer_invitation

    async with harness.job_unit() as uow:
        invitation = (await uow.events.invitations(event_id))[0]
        answer = await answer_invitation(
            uow,
            notifier=harness.app.notifier,
            clock=harness.clock,
            client_id=bank.client_id,
            invitation_id=invitation.id,
            answer=Rsvp.ACCEPT,
            catalog=Catalog.shared(),
        )
        await uow.commit()
    assert answer.code is not None
    return invitation.id, answer.code


async def staffed_bank(harness: BotHarness) -> MiniBank:
    """The mini bank with the client and every staff member linked through /start."""
    return await harness.linked_bank(
        client=CLIENT,
        manager=MANAGER,
        backup=BACKUP,
        coordinator=COORDINATOR,
        admin=ADMIN,
        duty=DUTY,
    )


async def login_code(crm: SqlCrm, clock: Clock, staff_id: int) -> str:
    async with crm.unit_of_work() as uow:
        staff = await uow.staff.get(staff_id)
        assert staff is not None
        issued = await issue_login(uow, clock=clock, staff=staff, policy=DeskPolicy())
        await uow.commit()
    assert issued is not None
    return issued.code


class DeskBrowser:
    """A browser-like client of the desk: cookies kept, forms posted with their CSRF token."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.csrf = ""

    def forget(self) -> None:
        """Drops every cookie, as a fresh browser (or another person's) would start."""
        self.client.session.cookie_jar.clear()
        self.csrf = ""

    async def open_link(self, code: str) -> ClientResponse:
        """Opens a login link and presses "Sign in", as a person would."""
        form = await self.client.get(f"/login/{code}")
        assert form.status == 200, await form.text()
        found = NONCE.search(await form.text())
        assert found is not None
        return await self.client.post(
            "/login", data={"code": code, "nonce": found.group(1)}, allow_redirects=False
        )

    async def sign_in(self, crm: SqlCrm, clock: Clock, staff_id: int) -> None:
        response = await self.open_link(await login_code(crm, clock, staff_id))
        assert response.status == 303, await response.text()
        await self.get("/")

    async def get(self, path: str, **kwargs: Any) -> ClientResponse:
        response = await self.client.get(path, **kwargs)
        text = await response.text() if response.content_type == "text/html" else ""
        found = CSRF.search(text)
        if found:
            self.csrf = found.group(1)
        return response

    async def text(self, path: str, status: int = 200) -> str:
        response = await self.get(path)
        body = await response.text()
        assert response.status == status, body
        return body

    async def post(
        self, path: str, data: Mapping[str, str] | None = None, *, csrf: bool = True
    ) -> ClientResponse:
        fields = dict(data or {})
        if csrf:
            fields["csrf"] = self.csrf
        return await self.client.post(path, data=fields, allow_redirects=False)

    async def submit(self, path: str, data: Mapping[str, str] | None = None) -> str:
        """Posts a form and follows its redirect, returning the page a person lands on."""
        response = await self.post(path, data)
        assert response.status == 303, await response.text()
        return await self.text(response.headers["Location"])
