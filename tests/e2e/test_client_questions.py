"""Client questions through the dispatcher: cited answers, interest signals, hand-over."""

from __future__ import annotations

from sqlalchemy import select

from bot.callbacks import SectionCb
from crm_adapter import models as m
from knowledge.answers import document_ref, section_key_of
from tests.harness import BotHarness


async def test_question_gets_a_cited_answer_and_an_interest_signal(asking: BotHarness) -> None:
    bank = await asking.linked_bank(client=7101, manager=8101)
    client = asking.user(7101)
    await asking.send(client, "хочу вложиться в альтернативные инвестиции, что у вас есть?")
    answer = asking.last_text(7101)
    assert "Источники:" in answer
    assert "интересуется" in asking.last_text(8101)
    async with asking.app.crm.unit_of_work() as uow:
        notes = await uow.profiles.notes(bank.client_id)
    assert notes[0].kind == "interest"

    await asking.press_button(client, "📄")
    full = asking.last_text(7101)
    assert full.startswith("<b>") and len(full) > len(answer.split("Источники:")[0]) // 2


async def test_section_of_a_staff_document_is_refused(asking: BotHarness) -> None:
    await asking.linked_bank(client=7104)
    client = asking.user(7104)
    knowledge = asking.app.extras["knowledge"]
    secret = next(c for c in knowledge.retriever.chunks() if c.audience == "staff")
    forged = SectionCb(doc=document_ref(secret.doc_id), key=section_key_of(secret.section))
    # The button is genuine in every respect but the audience: staff may open it.
    assert knowledge.full_section(forged.doc, forged.key, audience="staff") is not None
    calls = await asking.press(client, forged.pack())
    assert calls[0].show_alert  # type: ignore[attr-defined]
    assert secret.section_text[:40] not in "".join(asking.texts(7104))


async def test_asking_for_a_person_hands_over_to_the_manager(asking: BotHarness) -> None:
    await asking.linked_bank(client=7102, manager=8102)
    client = asking.user(7102)
    await asking.send(client, "хочу поговорить с менеджером")
    assert "хочу поговорить с менеджером" in asking.last_text(8102)
    async with asking.app.crm.unit_of_work() as uow:
        codes = list(await uow.session.scalars(select(m.ServiceRequestRow.service_code)))
    assert codes == ["question"]


async def test_staff_only_documents_never_reach_a_client(asking: BotHarness) -> None:
    await asking.linked_bank(client=7103)
    client = asking.user(7103)
    await asking.send(client, "матрица эскалации и чек-лист брифинга для сотрудников")
    assert "Матрица эскалации" not in asking.last_text(7103)


async def test_ask_a_question_leaves_a_half_finished_wizard_or_conversation(
    asking: BotHarness,
) -> None:
    """Found by hand in the console: "Ask a question" pressed at a wizard's confirmation
    promised an answer from the documents, then met the question with "choose a button";
    pressed while talking to the manager, the question would have gone to the manager."""
    await asking.linked_bank(client=7105, manager=8105)
    client = asking.user(7105)
    await asking.press_button(client, "Услуги")
    await asking.press_button(client, "Блокировка")
    await asking.press_button(client, "Заблокировать")
    await asking.send(client, "1234")
    assert "Всё верно?" in asking.last_text(7105)
    await asking.press_button(client, "Задать вопрос")
    await asking.send(client, "как заказать справку о доходах?")
    assert "Источники:" in asking.last_text(7105)

    await asking.press_button(client, "Мой менеджер")
    await asking.press_button(client, "Задать вопрос")
    await asking.send(client, "какие документы нужны для вклада?")
    assert "Источники:" in asking.last_text(7105)
    assert not any("документы нужны" in text for text in asking.texts(8105))
