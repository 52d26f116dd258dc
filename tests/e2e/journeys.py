"""Client journeys several end-to-end tests walk through, in either messenger.

Each helper takes the steps a person takes and checks what they must see on the way, so a
test that starts from one of them only adds what it is about.
"""

from __future__ import annotations

from crm_adapter.dto import Feedback, ServiceRequest
from tests.harness import BotHarness
from tests.max_harness import MaxHarness


async def order_cash_delivery(
    harness: BotHarness | MaxHarness, client_id: int, manager_id: int
) -> None:
    """The client orders cash delivery from the menu, mistyping the amount and giving a past
    date on the way, and sends it: the client is told who handles it, the manager gets it."""
    client = harness.user(client_id)
    await harness.send(client, "/menu")
    await harness.press_button(client, "Услуги")
    await harness.press_button(client, "Доставка наличных")
    assert "шаг 1 из 4" in harness.last_text(client_id)

    await harness.send(client, "сто тысяч")
    assert "Не понял сумму" in harness.last_text(client_id)
    await harness.send(client, "1 500 000,50")
    await harness.press_button(client, "EUR")
    await harness.send(client, "01.01.2020")
    assert "уже прошла" in harness.last_text(client_id)
    await harness.send(client, "25.11.2026")
    await harness.send(client, "Москва")
    confirm = harness.last_text(client_id)
    assert "1\u00a0500\u00a0000.50" in confirm and "EUR" in confirm and "25.11.2026" in confirm

    await harness.press_button(client, "Отправить")
    assert "Соколов Андрей" in harness.last_text(client_id)
    assert "Волков Иван Петрович" in harness.last_text(manager_id)


async def the_rated_request(
    harness: BotHarness | MaxHarness, client_id: int
) -> tuple[ServiceRequest, Feedback | None]:
    """The client's only request, and the client's rating of it if there is one."""
    async with harness.app.crm.unit_of_work() as uow:
        (request,) = await uow.requests.for_client(client_id)
        feedback = await uow.feedback.find(
            client_id=client_id, kind="request", subject_id=request.id
        )
    return request, feedback


async def relay_round_trip(
    harness: BotHarness | MaxHarness, client_id: int, manager_id: int
) -> str:
    """The client opens "My manager" from the menu and writes; the manager answers by replying
    to the relayed message. Returns that message as the manager got it."""
    client, manager = harness.user(client_id), harness.user(manager_id)
    await harness.send(client, "/menu")
    await harness.press_button(client, "Мой менеджер")
    assert "Соколов Андрей" in harness.last_text(client_id)
    await harness.send(client, "Нужна справка для визы <срочно>")
    relayed = harness.last_text(manager_id)
    assert "Волков Иван Петрович" in relayed and "&lt;срочно&gt;" in relayed
    assert harness.last_text(client_id) == "Сообщение передано: Соколов Андрей."

    await harness.send(
        manager, "Подготовлю к завтра", reply_to_message=harness.last_message(manager_id)
    )
    assert harness.last_text(client_id) == "👤 <b>Соколов Андрей</b>:\nПодготовлю к завтра"
    assert "Ответ передан клиенту" in harness.last_text(manager_id)
    return relayed
