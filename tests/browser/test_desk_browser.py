"""The desk in a real browser: a manager signs in from the bot's link, prepares a meeting and
works a request through; a coordinator runs an event's invitations, RSVPs and check-in.
Screenshots land in var/screenshots/ for review."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiogram.methods import SendMessage

from tests.browser.conftest import SCREENSHOTS
from tests.harness import BotHarness
from tests.web.desk import (
    COORDINATOR,
    MANAGER,
    client_accepts,
    new_request,
    queued_texts,
    staffed_bank,
)

pytestmark = pytest.mark.browser


async def link_from_bot(harness: BotHarness, user_id: int) -> str:
    """Sends /web as the staff member and returns the link the bot answered with."""
    calls = await harness.send(harness.user(user_id), "/web")
    text = next(c.text for c in calls if isinstance(c, SendMessage) and c.chat_id == user_id)
    found = re.search(r"http://\S+/login/\S+", text)
    assert found is not None, text
    return found.group(0)


async def sign_in(page: Any, desk_url: str, link: str) -> None:
    # The bot's link names the configured desk address; the test's desk listens elsewhere.
    await page.goto(desk_url + link[link.index("/login/") :])
    await page.get_by_role("button", name="Войти").click()
    await page.wait_for_load_state()


async def shot(page: Any, name: str) -> None:
    # Charts are separate image requests: wait for them, so the screenshot shows them.
    await page.wait_for_function(
        "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
    )
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def test_manager_prepares_a_meeting_and_works_a_request(
    harness: BotHarness, page: Any, desk_url: str
) -> None:
    bank = await staffed_bank(harness)
    request_id = await new_request(harness, bank, summary="Доставка 500 000 ₽ завтра к 12:00")

    await sign_in(page, desk_url, await link_from_bot(harness, MANAGER))
    assert page.url.endswith("/requests")
    row = page.locator("#queue-rows tr", has_text=f"#{request_id}")
    await row.wait_for()
    # The live timer is filled in by the page's script (the test clock is in the past, so
    # the deadline has passed and the timer counts the overdue time).
    timer = row.locator(".timer")
    await timer.filter(has_text=re.compile(r"\d")).wait_for()
    # In the page's language: "просрочено 3 д 4 ч", not "3d 4h".
    assert re.fullmatch(r"просрочено \d+ (д|ч|мин) \d+ (ч|мин|с)", await timer.inner_text())
    await shot(page, "01-manager-queue")

    # Meeting preparation: the client's card, the brief, a note.
    await page.get_by_role("link", name="Клиенты").click()
    await page.get_by_role("link", name="Волков Иван Петрович").click()
    await page.locator("#brief .brief").wait_for()
    await page.locator("#profile figure img").scroll_into_view_if_needed()
    await page.wait_for_function(
        "() => { const i = document.querySelector('#profile figure img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    await page.get_by_label("Новая заметка").fill("Обсудить инвестиции в искусство")
    await page.get_by_role("button", name="Сохранить заметку").click()
    await page.get_by_role("status").filter(has_text="Заметка сохранена").wait_for()
    await shot(page, "02-manager-client-card")

    # The request's full cycle.
    await page.goto(f"{desk_url}/requests/{request_id}")
    await page.get_by_role("button", name=re.compile("Принять")).click()
    await page.get_by_role("status").filter(has_text="Заявка принята").wait_for()
    await page.get_by_label("Ответ клиенту").fill("Курьер будет в 12:00")
    await page.get_by_role("button", name=re.compile("Ответить")).click()
    await page.get_by_role("status").filter(has_text="Ответ отправлен").wait_for()
    await page.get_by_label("Комментарий к выполнению").fill("Доставлено под подпись")
    await page.get_by_role("button", name=re.compile("Решено")).click()
    await page.get_by_role("status").filter(has_text="Заявка выполнена").wait_for()
    await shot(page, "03-manager-request-resolved")

    client_texts = await queued_texts(harness.app.crm, client_id=bank.client_id)
    assert any("Курьер будет в 12:00" in text for text in client_texts)
    async with harness.app.crm.unit_of_work() as uow:
        done = await uow.requests.get(request_id)
        assert done is not None and done.status.value == "resolved"
        notes = await uow.profiles.notes(bank.client_id)
        assert [n.text for n in notes] == ["Обсудить инвестиции в искусство"]

    await page.get_by_role("button", name="Выйти").click()
    await page.get_by_role("heading", name="Вы вышли из рабочего места").wait_for()
    await page.goto(f"{desk_url}/requests")
    assert "/web" in await page.content()


async def test_coordinator_runs_rsvp_and_check_in(
    harness: BotHarness, page: Any, desk_url: str
) -> None:
    bank = await staffed_bank(harness)
    # Every answer the browser gets for an icon: it asked /favicon.ico and met a 401.
    icons: list[int] = []
    page.on("response", lambda r: icons.append(r.status) if "favicon" in r.url else None)
    await sign_in(page, desk_url, await link_from_bot(harness, COORDINATOR))
    assert page.url.endswith("/events")
    await page.get_by_role("link", name="Новое мероприятие").click()
    await page.get_by_label("Название", exact=True).fill("Вечер с шеф-поваром")
    # Tonight (the test clock says 18:00 in Moscow): the door takes codes from 16:00.
    await page.get_by_label("Начало (местное время)").fill("2026-11-22 19:00")
    await page.get_by_label("Окончание (местное время)").fill("2026-11-22 23:00")
    await page.get_by_label("Площадка (адрес)").fill("Ресторан на Патриарших")
    await page.get_by_label("Вместимость (мест)").fill("10")
    await shot(page, "04-coordinator-new-event")
    await page.get_by_role("button", name="Создать черновик").click()
    await page.get_by_role("status").filter(has_text="Черновик создан").wait_for()

    await page.get_by_role("link", name="Аудитория").click()
    await page.get_by_role("cell", name="Волков Иван Петрович").wait_for()
    await page.get_by_role("button", name="Разослать приглашения").click()
    await page.get_by_role("status").filter(has_text="поставлены в очередь: 1").wait_for()
    event_id = int(page.url.split("/events/")[1].split("?")[0])

    # The client answers in the messenger; the desk shows the answer.
    invitation_id, code = await client_accepts(harness, bank, event_id)

    await page.goto(f"{desk_url}/events/{event_id}/guests")
    await page.get_by_role("link", name=re.compile("^придёт")).click()
    await page.locator("#guests tbody tr[data-status=accepted]").wait_for()
    await shot(page, "05-coordinator-rsvp-table")

    await page.goto(f"{desk_url}/events/{event_id}")
    await page.get_by_label("Код гостя").fill(code)
    await page.get_by_role("button", name="Отметить").click()
    result = page.locator("#checkin-result")
    await result.filter(has_text="Волков Иван Петрович").wait_for()
    await shot(page, "06-coordinator-checked-in")
    await page.get_by_label("Код гостя").fill(code)
    await page.get_by_role("button", name="Отметить").click()
    await result.filter(has_text="уже использован").wait_for()

    async with harness.app.crm.unit_of_work() as uow:
        checked = await uow.events.invitation(invitation_id)
        assert checked is not None and checked.status == "checked_in"
    assert icons and all(status == 200 for status in icons), icons
