"""A masked number reaches each reader worded in their language; what is stored of the
person's text keeps the neutral placeholder."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from crm_adapter import models as m
from tests.harness import BotHarness

CARD = "4276 1234 5678 9014"
CLIENT, MANAGER = 7451, 8451


async def _rows(harness: BotHarness) -> list[tuple[str, str, str | None]]:
    """(direction, actor, text) of every interaction logged, oldest first."""
    async with harness.app.crm.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(
                m.InteractionRow.direction, m.InteractionRow.actor, m.InteractionRow.text
            ).order_by(m.InteractionRow.id)
        )
        return [(d, a, t) for d, a, t in rows.all()]


@pytest.mark.parametrize(
    ("language", "shown", "other"),
    [("ru", "[карта *9014]", "[card *9014]"), ("en", "[card *9014]", "[карта")],
    ids=["ru", "en"],
)
async def test_the_manager_reads_the_relayed_card_in_their_language(
    harness: BotHarness, language: str, shown: str, other: str
) -> None:
    bank = await harness.linked_bank(client=CLIENT)
    async with harness.app.crm.unit_of_work() as uow:
        await uow.session.execute(
            update(m.StaffRow).where(m.StaffRow.id == bank.manager_id).values(language=language)
        )
        await uow.commit()
    await harness.link(harness.user(MANAGER, language_code=language), staff_id=bank.manager_id)
    client = harness.user(CLIENT)
    await harness.press_button(client, "Мой менеджер")
    await harness.send(client, f"Заблокируйте карту {CARD}")

    relayed = harness.last_text(MANAGER)
    assert f"Заблокируйте карту {shown}" in relayed and other not in relayed

    rows = await _rows(harness)
    # The client's message as it arrived and as relayed: the neutral form, in any language.
    said = [(d, t) for d, a, t in rows if a == "client" and t and "Заблокируйте" in t]
    assert said == [
        ("in", "Заблокируйте карту [card *9014]"),
        ("internal", "Заблокируйте карту [card *9014]"),
    ]
    # The outgoing-call log keeps the message as the manager received it (its template is in
    # their language too): masked all the same, and read alike by the detector.
    sent = [t for d, _, t in rows if d == "out" and t and "Заблокируйте" in t]
    assert len(sent) == 1 and shown in sent[0] and "4276" not in sent[0]
