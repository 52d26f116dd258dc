"""The desk words masked numbers in the page's language; the store keeps the neutral forms."""

from __future__ import annotations

from tests.factories import MiniBank
from tests.harness import BotHarness
from tests.web.desk import DeskBrowser, new_request

CARD = "4276 1234 5678 9014"


async def test_masked_numbers_read_in_the_pages_language(
    harness: BotHarness, bank: MiniBank, browser: DeskBrowser
) -> None:
    request_id = await new_request(
        harness, bank, summary=f"Перевыпуск <карты> {CARD}, паспорт 45 12 345678"
    )
    await browser.sign_in(harness.app.crm, harness.clock, bank.manager_id)

    card = await browser.text(f"/requests/{request_id}")
    # Worded, and the client's text around it still escaped.
    assert "Перевыпуск &lt;карты&gt; [карта *9014], паспорт [паспорт]" in card
    assert "[card *9014]" not in card and "[passport]" not in card

    page = await browser.submit(
        f"/clients/{bank.client_id}/notes", {"text": "Новый мобильный 8 916 123-45-67"}
    )
    assert "Новый мобильный [телефон]" in page and "[phone]" not in page
    brief = await browser.get(f"/clients/{bank.client_id}/brief.md")
    assert "[телефон]" in await brief.text()

    english = await browser.submit(
        "/language", {"language": "en", "next": f"/requests/{request_id}"}
    )
    assert "[card *9014]" in english and "[карта" not in english

    async with harness.app.crm.unit_of_work() as uow:
        stored = await uow.requests.get(request_id)
        notes = await uow.profiles.notes(bank.client_id)
    assert stored is not None
    assert stored.summary == "Перевыпуск <карты> [card *9014], паспорт [passport]"
    assert notes[0].text == "Новый мобильный [phone]"
