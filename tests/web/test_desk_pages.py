"""Every desk page through real HTTP: the request cycle, the client card, the portfolio,
events with RSVP and check-in, the admin pages, and who may open what (with audit rows)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from crm_adapter.dto import AuditEntry
from crm_adapter.sql import SqlCrm
from tests.factories import MiniBank, add_dated_facts
from tests.harness import BotHarness
from tests.web.desk import DeskBrowser, client_accepts, new_request, queued_texts


async def audit(crm: SqlCrm, action: str) -> list[AuditEntry]:
    async with crm.unit_of_work() as uow:
        return [e for e in await uow.audit.recent(limit=500) if e.action == action]


SUMMARY = "Доставка 500 000 ₽ <b>завтра</b>"


async def test_a_request_worked_end_to_end_in_the_desk(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    request_id = await new_request(harness, bank, summary=SUMMARY, urgent=True)
    await browser.sign_in(harness.app.crm, harness.clock, bank.manager_id)
    queue = await browser.text("/requests")
    assert f'href="/requests/{request_id}"' in queue and "Волков Иван Петрович" in queue
    assert 'data-deadline="2026-11-22T' in queue and 'hx-get="/requests/rows"' in queue
    rows = await browser.text("/requests/rows")
    assert rows.lstrip().startswith("<tbody") and f"#{request_id}" in rows

    card = await browser.text(f"/requests/{request_id}")
    # The client's text is escaped, never markup.
    assert "&lt;b&gt;завтра&lt;/b&gt;" in card and "<b>завтра</b>" not in card
    assert f'action="/requests/{request_id}/accept"' in card

    page = await browser.submit(f"/requests/{request_id}/accept")
    assert "Заявка принята" in page and "/accept" not in page
    assert any(
        "взял(а) в работу" in text
        for text in await queued_texts(harness.app.crm, client_id=bank.client_id)
    )

    page = await browser.submit(f"/requests/{request_id}/reply", {"text": "Курьер в 12:00"})
    assert "Ответ отправлен" in page and "Курьер в 12:00" in page
    assert any(
        "Курьер в 12:00" in text
        for text in await queued_texts(harness.app.crm, client_id=bank.client_id)
    )

    too_long = await browser.post(f"/requests/{request_id}/reply", {"text": "x" * 4001})
    assert too_long.status == 413 and "4001" in await too_long.text()

    page = await browser.submit(f"/requests/{request_id}/resolve", {"note": "Доставлено"})
    assert "Заявка выполнена" in page and f'action="/requests/{request_id}/' not in page
    async with harness.app.crm.unit_of_work() as uow:
        done = await uow.requests.get(request_id)
        assert done is not None and done.status.value == "resolved"
        assert [c.text for c in await uow.requests.comments(request_id)] == [
            "Курьер в 12:00",
            "Доставлено",
        ]
    # Acting on a closed request is refused with the reason, and audited.
    again = await browser.post(f"/requests/{request_id}/resolve")
    assert again.status == 409 and "уже закрыта" in await again.text()
    assert (await audit(harness.app.crm, "request_resolve"))[0].outcome == "denied"
    assert "Заявок нет" in await browser.text("/requests") or f"#{request_id}<" not in (
        await browser.text("/requests/rows")
    )


async def test_another_managers_request_and_client_are_refused_and_audited(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    request_id = await new_request(harness, bank, summary=SUMMARY)
    # The coordinator-free backup manager of the *other* client is not this client's backup.
    await browser.sign_in(harness.app.crm, harness.clock, bank.manager_id)
    denied = await browser.get(f"/clients/{bank.other_client_id}")
    assert denied.status == 403 and "Морозова" not in await denied.text()
    entries = await audit(harness.app.crm, "view_card")
    assert [(e.outcome, e.subject_client_id) for e in entries] == [
        ("denied", bank.other_client_id)
    ]
    missing = await browser.get("/clients/99999")
    assert missing.status == 403
    browser.forget()

    await browser.sign_in(harness.app.crm, harness.clock, bank.coordinator_id)
    assert (await browser.get(f"/requests/{request_id}")).status == 403
    refused = await browser.get(f"/clients/{bank.client_id}")
    assert refused.status == 403 and "Волков" not in await refused.text()
    pages = [
        (e.outcome, (e.details or {}).get("page"))
        for e in await audit(harness.app.crm, "web_page")
    ]
    assert ("denied", "client_card") in pages and ("denied", "request") in pages
    assert (await browser.get("/clients/1/chart.png")).status == 403
    assert (await browser.get("/portfolio")).status == 403
    assert (await browser.get("/admin")).status == 403


async def test_client_search_card_brief_chart_and_note(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    await browser.sign_in(harness.app.crm, harness.clock, bank.manager_id)
    portfolio = await browser.text("/clients")
    assert "Волков Иван Петрович" in portfolio and "Морозова" not in portfolio
    found = await browser.text("/clients?q=Valkov")  # a typo in Latin letters
    assert f'href="/clients/{bank.client_id}"' in found
    other = await browser.text("/clients?q=Морозова")
    assert f'href="/clients/{bank.other_client_id}"' not in other and "найдено: 0" in other

    card = await browser.text(f"/clients/{bank.client_id}")
    assert "Волков Иван Петрович" in card and "Вклад «Капитал»" in card
    assert 'id="brief"' in card and 'id="risk"' in card and 'id="history"' in card
    assert [e.outcome for e in await audit(harness.app.crm, "view_card")] == ["ok"]

    chart = await browser.get(f"/clients/{bank.client_id}/chart.png")
    assert chart.status == 200 and (await chart.read()).startswith(b"\x89PNG")
    brief = await browser.get(f"/clients/{bank.client_id}/brief.md")
    assert brief.status == 200 and "attachment" in brief.headers["Content-Disposition"]
    assert "Волков" in await brief.text()
    assert [e.outcome for e in await audit(harness.app.crm, "view_briefing")] == ["ok"]

    page = await browser.submit(
        f"/clients/{bank.client_id}/notes", {"text": "Интересуется <искусством>"}
    )
    assert "Заметка сохранена" in page and "Интересуется &lt;искусством&gt;" in page
    # Kinds of notes and contacts by their names, not the log's codes ("note", "callback").
    assert "· заметка</span>" in page and "· note</span>" not in page
    async with harness.app.crm.unit_of_work() as uow:
        await uow.interactions.record(
            occurred_at=harness.clock.now(),
            channel="messenger",
            messenger="telegram",
            direction="in",
            kind="callback",
            actor="client",
            client_id=bank.client_id,
        )
        await uow.commit()
    history = await browser.text(f"/clients/{bank.client_id}")
    assert "<td>нажатие кнопки</td>" in history and "<td>callback</td>" not in history
    empty = await browser.post(f"/clients/{bank.client_id}/notes", {"text": "  "})
    assert empty.status == 400


async def test_the_card_writes_every_date_day_first(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    # Regression: "Клиент с" and maturity dates were ISO beside DD.MM.YYYY elsewhere.
    await add_dated_facts(harness.app.crm, bank.client_id)
    await browser.sign_in(harness.app.crm, harness.clock, bank.manager_id)
    card = await browser.text(f"/clients/{bank.client_id}")
    assert "<dt>Клиент с</dt><dd>01.05.2012</dd>" in card
    assert "<dd>14.03.1970</dd>" in card  # the birthday, as before
    assert "<td>20.12.2026</td>" in card
    assert "01.11.2026 Рождение внука" in card
    assert not re.search(r"\d{4}-\d{2}-\d{2}", card), re.findall(r".{30}\d{4}-\d\d-\d\d", card)


async def test_portfolio_overview_with_chart(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    await browser.sign_in(harness.app.crm, harness.clock, bank.manager_id)
    page = await browser.text("/portfolio")
    assert "Обзор портфеля" in page and 'src="/portfolio/chart.png"' in page
    assert "<dt>Риск ухода: высокий</dt>" in page  # not a bare "высокий"
    chart = await browser.get("/portfolio/chart.png")
    assert chart.status == 200 and chart.content_type == "image/png"


async def test_an_event_from_creation_to_check_in(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    await browser.sign_in(harness.app.crm, harness.clock, bank.coordinator_id)
    assert "Мероприятия" in await browser.text("/events")
    # Tonight (the test clock says 18:00 in Moscow): the door is open for check-in.
    form = {
        "title": "Ужин с экономистом",
        "timezone": "Europe/Moscow",
        "starts_at": "2026-11-22 19:00",
        "ends_at": "2026-11-22 22:00",
        "venue": "Особняк на Арбате",
        "city": "Москва",
        "capacity": "1",
        "plus_ones": "no",
        "rsvp_deadline": "",
        "audience": "",
    }
    bad = await browser.post("/events", {**form, "starts_at": "завтра"})
    assert bad.status == 400 and "Ужин с экономистом" in await bad.text()  # nothing lost
    page = await browser.submit("/events", form)
    assert "Черновик создан" in page
    event_id = int(page.split('action="/events/')[1].split("/")[0])
    # The page shows the reply-by date as a fact, not as the form's optional field.
    assert "<dt>Ответить до</dt>" in page and "(необязательно)" not in page

    audience = await browser.text(f"/events/{event_id}/audience")
    assert "Волков Иван Петрович" in audience
    page = await browser.submit(f"/events/{event_id}/invite")
    assert "Приглашения поставлены в очередь: 1" in page

    _, code = await client_accepts(harness, bank, event_id)

    table = await browser.text(f"/events/{event_id}/guests?status=accepted")
    assert "Волков Иван Петрович" in table and 'aria-current="true">придёт' in table
    assert "Волков" not in await browser.text(f"/events/{event_id}/guests?status=declined")
    assert "Гостей в списке: 0" in await browser.text(
        f"/events/{event_id}/guests?status=waitlisted"
    )
    csv = await browser.get(f"/events/{event_id}/guests.csv")
    assert csv.status == 200 and "Волков Иван Петрович" in (await csv.read()).decode("utf-8-sig")
    # As a Russian Excel reads it: BOM, ';', Russian headers and statuses.
    body = await csv.read()
    assert body.startswith(b"\xef\xbb\xbf")
    header, row = body.decode("utf-8-sig").splitlines()
    assert header == "Гость;Статус;С сопровождающим;Время ответа;Время прихода;Менеджер"
    assert row.startswith("Волков Иван Петрович;придёт;нет;22.11.2026 18:00;;")

    checked = await browser.post(f"/events/{event_id}/checkin", {"code": code.lower()})
    assert checked.status == 200 and "Волков Иван Петрович" in await checked.text()
    twice = await browser.post(f"/events/{event_id}/checkin", {"code": code})
    assert twice.status == 409 and "уже использован" in await twice.text()
    wrong = await browser.post(f"/events/{event_id}/checkin", {"code": "ZZZZZZ"})
    assert wrong.status == 409

    page = await browser.submit(f"/events/{event_id}/capacity", {"capacity": "5"})
    assert "Вместимость изменена" in page and "1/5" in page
    chart = await browser.get(f"/events/{event_id}/chart.png")
    assert chart.status == 200 and chart.content_type == "image/png"
    viewed = {e.action for e in await harness_audit(harness)}
    assert {"event_audience_previewed", "event_guests_viewed", "event_guests_exported"} <= viewed


async def test_the_event_page_and_its_door(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    """The page shows what the event is and whether a companion may come; a guest's code is
    refused two weeks early (it was accepted, and the brief then said they had attended)."""
    await browser.sign_in(harness.app.crm, harness.clock, bank.coordinator_id)
    form = {
        "title": "Вечер камерной музыки",
        "description": "Квартет и ужин\nДресс-код: smart casual",
        "timezone": "Europe/Moscow",
        "starts_at": "2026-12-06 19:00",
        "ends_at": "2026-12-06 22:00",
        "venue": "Особняк на Арбате",
        "capacity": "10",
        "plus_ones": "yes",
    }
    page = await browser.submit("/events", form)
    event_id = int(page.split('action="/events/')[1].split("/")[0])
    assert "<dt>С сопровождающим (+1)</dt><dd>да</dd>" in page
    assert '<dd class="pre">Квартет и ужин\nДресс-код: smart casual</dd>' in page
    await browser.submit(f"/events/{event_id}/invite")
    invitation_id, code = await client_accepts(harness, bank, event_id)

    early = await browser.post(f"/events/{event_id}/checkin", {"code": code})
    assert early.status == 409
    assert (
        "Регистрация на «Вечер камерной музыки» ещё не открыта: коды принимаются с "
        "06.12.2026 16:00." in await early.text()
    )
    async with harness.app.crm.unit_of_work() as uow:
        invitation = await uow.events.invitation(invitation_id)
    assert invitation is not None and invitation.status == "accepted"

    # Guessing is locked out on the desk too, with the same text as in the bot (the page
    # failed to render it: the pause's minutes were not passed).
    for guess in ("AAAAAA", "BBBBBB", "CCCCCC", "DDDDDD", "EEEEEE"):
        assert (await browser.post(f"/events/{event_id}/checkin", {"code": guess})).status == 409
    locked = await browser.post(f"/events/{event_id}/checkin", {"code": code})
    assert locked.status == 409 and "приостановлена на 15 мин" in await locked.text()

    # At the door, an hour before the start, in English.
    harness.clock.set(datetime(2026, 12, 6, 15, 0, tzinfo=UTC))
    browser.forget()
    await browser.sign_in(harness.app.crm, harness.clock, bank.coordinator_id)
    await browser.submit("/language", {"language": "en", "next": f"/events/{event_id}"})
    checked = await browser.post(f"/events/{event_id}/checkin", {"code": code})
    assert (
        checked.status == 200 and "Admitted: <b>Волков Иван Петрович</b>" in await checked.text()
    )
    # The English list: commas, English headers and statuses, times year first.
    body = await (await browser.get(f"/events/{event_id}/guests.csv")).read()
    header, row = body.decode("utf-8-sig").splitlines()
    assert header == "Guest,Status,Plus one,Answered at,Checked in at,Manager"
    assert row.startswith("Волков Иван Петрович,checked in,no,2026-11-22 18:00,2026-12-06 18:00,")

    harness.clock.set(datetime(2026, 12, 6, 21, 0, tzinfo=UTC))  # midnight in Moscow
    browser.forget()
    await browser.sign_in(harness.app.crm, harness.clock, bank.coordinator_id)
    await browser.submit("/language", {"language": "en", "next": f"/events/{event_id}"})
    late = await browser.post(f"/events/{event_id}/checkin", {"code": code})
    assert late.status == 409
    assert "“Вечер камерной музыки” is over: check-in is closed." in await late.text()


async def harness_audit(harness: BotHarness) -> list[AuditEntry]:
    async with harness.app.crm.unit_of_work() as uow:
        return await uow.audit.recent(limit=500)


async def test_managers_cannot_run_events(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    await browser.sign_in(harness.app.crm, harness.clock, bank.manager_id)
    assert (await browser.get("/events")).status == 403
    refused = await browser.post("/events", {"title": "x"})
    assert refused.status == 403


async def test_admin_pages(harness: BotHarness, bank: MiniBank, browser: DeskBrowser) -> None:
    await new_request(harness, bank, summary=SUMMARY)
    await browser.sign_in(harness.app.crm, harness.clock, bank.admin_id)
    assert "Клиенты под наблюдением" in await browser.text("/admin")
    log = await browser.text("/admin/audit?outcome=ok&action=web_login")
    assert "web_login" in log and "request_created" not in log
    delivery = await browser.text("/admin/delivery")
    assert 'id="outbox"' in delivery and "Внешняя CRM не подключена" in delivery
    # Admins see every client, so the card opens for them.
    assert (await browser.get(f"/clients/{bank.other_client_id}")).status == 200


async def test_language_switch_and_english_pages(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    await browser.sign_in(harness.app.crm, harness.clock, bank.manager_id)
    page = await browser.submit("/language", {"language": "en", "next": "/requests"})
    assert "Request queue" in page and '<html lang="en">' in page
    # Only a path on this site is followed after switching.
    response = await browser.post("/language", {"language": "ru", "next": "//evil.example"})
    assert response.headers["Location"] == "/"


async def test_the_duty_desk_sees_the_queue_but_no_client_cards(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    request_id = await new_request(harness, bank, summary=SUMMARY, urgent=True)
    await browser.sign_in(harness.app.crm, harness.clock, bank.duty_id)
    assert (await browser.get(f"/requests/{request_id}")).status == 200
    assert (await browser.get(f"/clients/{bank.client_id}")).status == 403


async def test_admins_see_the_crm_write_queue_when_an_external_crm_is_configured(
    harness: BotHarness, bank: MiniBank
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from tests.web.desk import outbox_notifier
    from web.app import build_desk

    settings = harness.app.settings.model_copy(
        update={"crm": harness.app.settings.crm.model_copy(update={"backend": "webhook"})}
    )
    desk = build_desk(
        settings,
        crm=harness.app.crm,
        clock=harness.clock,
        notifier=outbox_notifier(harness.app.crm, harness.clock),
    )
    async with TestClient(TestServer(desk)) as client:
        browser = DeskBrowser(client)
        await browser.sign_in(harness.app.crm, harness.clock, bank.admin_id)
        page = await browser.text("/admin/delivery")
        assert 'id="crm-queue"' in page and "webhook" in page
        assert [e.outcome for e in await audit(harness.app.crm, "crm_queue_view")] == ["ok"]


async def test_the_favicon_is_served_before_sign_in(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    # Regression: /favicon.ico answered 401 (signed out) or 404, a red line in every console.
    icon = await browser.get("/favicon.ico")
    assert icon.status == 200 and icon.content_type == "image/svg+xml"
    assert (await icon.read()).startswith(b"<svg") and "no-store" not in icon.headers.get(
        "Cache-Control", ""
    )
    linked = await browser.get("/static/favicon.svg")
    assert linked.status == 200
    await browser.sign_in(harness.app.crm, harness.clock, bank.manager_id)
    assert '<link rel="icon" href="/static/favicon.svg"' in await browser.text("/requests")
