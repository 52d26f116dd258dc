"""Product facts for briefings, quoted from the knowledge base (adapts it to `ProductFacts`)."""

from __future__ import annotations

from concierge.briefing import Fact
from knowledge.answers import KnowledgeBase, condense

# What a manager wants to know about a product family before a meeting, as a search query.
_FAMILY_QUERIES = {
    "investments": "доходность инвестиционных продуктов минимальная сумма брокерский счёт",
    "insurance": "инвестиционное страхование жизни условия взнос защита капитала",
    "deposits": "ставка по вкладу срок пополнение досрочное снятие",
}


class KnowledgeProductFacts:
    """Briefings cite the documents clients also see (staff audience: both are allowed)."""

    def __init__(self, knowledge: KnowledgeBase, *, per_family: int = 2) -> None:
        self.knowledge = knowledge
        self.per_family = per_family

    def facts(self, family: str, *, language: str) -> list[Fact]:
        query = _FAMILY_QUERIES.get(family, family)
        hits = self.knowledge.search(query, audience="staff", limit=8)
        chosen = [h for h in hits if h.chunk.family == family] or hits
        preferred = [h for h in chosen if h.chunk.language == language] or chosen
        return [
            Fact(
                text=condense(h.chunk.text, query, max_sentences=2),
                doc_id=h.chunk.doc_id,
                title=h.chunk.title,
                section=h.chunk.section,
            )
            for h in preferred[: self.per_family]
        ]
