"""Signing in to the desk: one-time links, sessions, sign-out, idle timeout, cookies, CSRF."""

from __future__ import annotations

from datetime import timedelta

from aiogram.methods import SendMessage

from common.clock import ManualClock
from crm_adapter.dto import AuditEntry
from crm_adapter.sql import SqlCrm
from tests.factories import MiniBank
from tests.harness import BotHarness
from tests.web.desk import COORDINATOR, MANAGER, NONCE, DeskBrowser, login_code


async def audit(crm: SqlCrm, action: str) -> list[AuditEntry]:
    async with crm.unit_of_work() as uow:
        return [e for e in await uow.audit.recent(limit=500) if e.action == action]


async def test_web_command_sends_a_link_that_signs_the_manager_in(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    calls = await harness.send(harness.user(MANAGER), "/web")
    sent = [c for c in calls if isinstance(c, SendMessage)]
    assert len(sent) == 1 and sent[0].chat_id == MANAGER
    assert sent[0].link_preview_options is not None and sent[0].link_preview_options.is_disabled
    link = next(w for w in sent[0].text.split() if "/login/" in w)
    code = link.rsplit("/", 1)[1]

    # Opening the link (a preview fetch, say) signs nobody in and leaves the code usable.
    assert (await browser.client.get(f"/login/{code}")).status == 200
    response = await browser.open_link(code)
    assert response.status == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "desk_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # not production: the local desk is plain HTTP
    page = await browser.text("/requests")
    assert "Соколов Андрей" in page and "Очередь заявок" in page
    assert [e.outcome for e in await audit(harness.app.crm, "web_login")] == ["ok"]


async def test_a_reused_link_is_refused_and_audited(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    code = await login_code(harness.app.crm, harness.clock, bank.manager_id)
    assert (await browser.open_link(code)).status == 303
    browser.forget()
    again = await browser.open_link(code)
    assert again.status == 403
    assert "уже использована" in await again.text()
    assert "desk_session=" not in again.headers.get("Set-Cookie", "")
    entries = await audit(harness.app.crm, "web_login")
    assert [(e.outcome, (e.details or {}).get("result")) for e in entries] == [
        ("denied", "used"),
        ("ok", "signed_in"),
    ]


async def test_an_expired_or_unknown_link_is_refused(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser, clock: ManualClock
) -> None:
    code = await login_code(harness.app.crm, clock, bank.manager_id)
    clock.advance(timedelta(minutes=11))
    expired = await browser.open_link(code)
    assert expired.status == 403 and "истёк" in await expired.text()
    unknown = await browser.open_link("not-a-code")
    assert unknown.status == 403 and "недействительна" in await unknown.text()
    assert (await browser.client.get("/requests")).status == 401


async def test_login_without_the_pages_nonce_is_refused(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    # Another site posting its own code would sign this browser in as someone else.
    code = await login_code(harness.app.crm, harness.clock, bank.manager_id)
    response = await browser.client.post("/login", data={"code": code}, allow_redirects=False)
    assert response.status == 403
    assert [e.outcome for e in await audit(harness.app.crm, "web_csrf")] == ["denied"]
    assert (await browser.open_link(code)).status == 303  # the code was not spent


async def test_sign_out_ends_the_session(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    await browser.sign_in(harness.app.crm, harness.clock, bank.manager_id)
    cookie = browser.client.session.cookie_jar.filter_cookies(browser.client.make_url("/"))
    response = await browser.post("/logout")
    assert response.status == 303 and response.headers["Location"] == "/signed-out"
    # The old cookie, replayed, no longer opens anything.
    replay = await browser.client.get("/requests", cookies={k: v.value for k, v in cookie.items()})
    assert replay.status == 401 and "/web" in await replay.text()
    assert len(await audit(harness.app.crm, "web_logout")) == 1


async def test_idle_sessions_expire(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser, clock: ManualClock
) -> None:
    await browser.sign_in(harness.app.crm, clock, bank.manager_id)
    clock.advance(timedelta(minutes=20))
    await browser.text("/requests")  # activity keeps the session alive
    clock.advance(timedelta(minutes=20))
    await browser.text("/requests")
    clock.advance(timedelta(minutes=31))
    assert (await browser.get("/requests")).status == 401


async def test_a_deactivated_staff_member_is_signed_out_at_once(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    from sqlalchemy import update

    from crm_adapter import models as m

    await browser.sign_in(harness.app.crm, harness.clock, bank.coordinator_id)
    assert (await browser.get("/events")).status == 200
    async with harness.app.crm.unit_of_work() as uow:
        await uow.session.execute(
            update(m.StaffRow).where(m.StaffRow.id == bank.coordinator_id).values(active=False)
        )
        await uow.commit()
    assert (await browser.get("/events")).status == 401
    # And the bot refuses to issue a link to someone the CRM does not list as active staff.
    await harness.send(harness.user(COORDINATOR), "/web")
    assert "/login/" not in harness.last_text(COORDINATOR)


async def test_forms_without_csrf_are_refused_and_audited(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    await browser.sign_in(harness.app.crm, harness.clock, bank.manager_id)
    missing = await browser.post(f"/clients/{bank.client_id}/notes", {"text": "x"}, csrf=False)
    assert missing.status == 403 and "Форма устарела" in await missing.text()
    wrong = await browser.client.post(
        f"/clients/{bank.client_id}/notes", data={"text": "x", "csrf": "0" * 64}
    )
    assert wrong.status == 403
    assert [e.outcome for e in await audit(harness.app.crm, "web_csrf")] == ["denied", "denied"]
    async with harness.app.crm.unit_of_work() as uow:
        assert await uow.profiles.notes(bank.client_id) == []


async def test_pages_carry_security_headers_and_production_cookies_are_secure(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    response = await browser.client.get("/signed-out")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    from aiohttp.test_utils import TestClient, TestServer

    from web.app import build_desk

    settings = harness.app.settings.model_copy(update={"environment": "production"})
    desk = build_desk(
        settings, crm=harness.app.crm, clock=harness.clock, notifier=harness.app.notifier
    )
    async with TestClient(TestServer(desk)) as client:
        code = await login_code(harness.app.crm, harness.clock, bank.manager_id)
        form = await client.get(f"/login/{code}")
        assert "Secure" in form.headers["Set-Cookie"]
        # A Secure cookie never travels over plain HTTP: the test hands it over itself.
        nonce = NONCE.search(await form.text())
        assert nonce is not None
        response = await client.post(
            "/login",
            data={"code": code, "nonce": nonce.group(1)},
            cookies={"__Host-desk_login": nonce.group(1)},
            allow_redirects=False,
        )
        assert response.status == 303
        cookie = response.headers["Set-Cookie"]
        assert "__Host-desk_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie


async def test_web_link_command_queues_the_link_for_the_staff_members_messenger(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    import pytest
    from sqlalchemy import select

    from cli.web import WebLinkError, queue_login_link
    from crm_adapter import models as m
    from tests.web.desk import outbox_notifier

    crm, clock = harness.app.crm, harness.clock
    notifier = outbox_notifier(crm, clock)
    settings = harness.app.settings
    report = await queue_login_link(crm, notifier, settings=settings, clock=clock, person="S-0101")
    assert "S-0101" in report and "/login/" not in report  # the link is never printed
    async with crm.unit_of_work() as uow:
        queued = list(
            await uow.session.execute(
                select(m.OutboxMessageRow.chat_id, m.OutboxMessageRow.text).where(
                    m.OutboxMessageRow.staff_id == bank.coordinator_id
                )
            )
        )
    assert len(queued) == 1 and queued[0][0] == COORDINATOR
    code = queued[0][1].split("/login/")[1].split()[0]
    assert (await browser.open_link(code)).status == 303
    assert (await browser.get("/events")).status == 200

    with pytest.raises(WebLinkError, match="no staff member"):
        await queue_login_link(crm, notifier, settings=settings, clock=clock, person="S-404")
