"""Grounded, cited answers from the bank's documents for clients and staff."""

from knowledge.answers import KnowledgeBase
from knowledge.embeddings import Embedder, make_embedder
from knowledge.models import Answer, Citation, IngestSummary, SearchHit

__all__ = [
    "Answer",
    "Citation",
    "Embedder",
    "IngestSummary",
    "KnowledgeBase",
    "SearchHit",
    "make_embedder",
]
