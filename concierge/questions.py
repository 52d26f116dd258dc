"""A client's free-text question: answered from the bank's documents, or handed to a person.

A question that shows interest in a product family is recorded as an interest signal and the
personal manager hears about it at once (DOMAIN: "the manager hears about it instantly").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from common.clock import Clock
from common.sensitive import mask
from concierge.hand_over import hand_over_question
from concierge.notify import Notifier, Outgoing
from crm_adapter.dto import Client, ServiceRequest
from crm_adapter.port import UnitOfWork
from knowledge.answers import KnowledgeBase
from knowledge.models import Answer


@dataclass(frozen=True)
class QuestionOutcome:
    answer: Answer
    handed_over: ServiceRequest | None


async def answer_client_question(
    uow: UnitOfWork,
    *,
    knowledge: KnowledgeBase,
    notifier: Notifier,
    clock: Clock,
    client: Client,
    question: str,
    language: str,
    interest_alert: Callable[[str, str], str] | None = None,
) -> QuestionOutcome:
    """Answers from client-audience documents only; `interest_alert(family, question)`
    renders the manager's notice for a product family (the question as staff may read it:
    card, document and phone numbers masked)."""
    shown = mask(question).text
    answer = await knowledge.aanswer(
        question,
        audience="client",
        language="en" if language == "en" else "ru",
        names=[n for n in (client.first_name, client.middle_name, client.last_name) if n],
    )
    if answer.interest_family:
        await uow.profiles.add_note(
            client_id=client.id,
            author_id=None,
            text=f"{answer.interest_family}: {shown[:300]}",
            kind="interest",
            now=clock.now(),
        )
        if client.manager_id is not None and interest_alert:
            await notifier.to_staff(
                client.manager_id,
                Outgoing(
                    text=interest_alert(answer.interest_family, shown[:300]),
                    kind="interest_signal",
                    occasion_key=f"interest:{client.id}:{clock.now():%Y-%m-%d}:"
                    f"{answer.interest_family}",
                ),
            )
    handed = None
    if answer.needs_manager:
        reason = "client_asked" if answer.manager_requested else "low_confidence"
        handed = await hand_over_question(
            uow, notifier, clock, client=client, question=question, reason=reason
        )
    return QuestionOutcome(answer=answer, handed_over=handed)
