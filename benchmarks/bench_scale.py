"""Answer latency at scale: p50/p95 of `Pipeline.answer` over benchmarks/questions.txt with 100, 10,000 and
100,000 facts and passages in the index (benchmarks/scale_data.py), beside a bare Chroma query
(`Index.search_passages(q, k=5)`) on the same index; and how p95 grows from 100 to 100,000 items.

The pipeline is built as the bot builds it (bot/services.py): the corpus from `FactStore(data_dir).corpus()`
(here with the corpus dir that names the synthetic vendors), `Pipeline.from_corpus(corpus, index=index)`
with the default hashed embedder. Every question is answered once before timing, so BM25, jieba and Chroma
are loaded; the figures are the median over rounds of each round's p50/p95 (one round = every question once).
Each size also checks that the shipped questions get the same kind of answer (status, cited figures) as
over the shipped corpus alone; passage answers may cite other passages, since there are more.

Prints one JSON object. Goals on 2 cores: p95 under 50 ms at 100,000 items, growing less than 2x from 100.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scale_data import ROOT, scale_data  # first: puts the project on sys.path

from knowledge.ingest import FactStore
from knowledge.loaders import load_corpus
from retrieval.embeddings import get_embeddings
from retrieval.index import Index
from retrieval.pipeline import Answer, Pipeline

SIZES = (100, 10_000, 100_000)
ROUNDS = 5
GOAL_P95_MS = 50.0
GOAL_GROWTH = 2.0


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rounds(call: Callable[[str], Any], questions: list[str], count: int) -> list[list[float]]:
    """Milliseconds per question, one list per round."""
    out = []
    for _ in range(count):
        times = []
        for question in questions:
            started = time.perf_counter()
            call(question)
            times.append((time.perf_counter() - started) * 1000)
        out.append(times)
    return out


def summary(per_round: list[list[float]]) -> dict[str, Any]:
    p50s = [statistics.median(r) for r in per_round]
    p95s = [percentile(r, 0.95) for r in per_round]
    return {
        "p50": round(statistics.median(p50s), 2),
        "p95": round(statistics.median(p95s), 2),
        "p95_rounds": [round(p, 2) for p in p95s],
    }


def shape(answer: Answer) -> tuple[str, tuple[tuple[str, str, str], ...], bool]:
    """What must not change with more data: the status, the cited figures, whether passages are quoted."""
    return answer.status, tuple(f.key for f in answer.facts), bool(answer.passages)


def shipped_shapes(questions: list[str]) -> list[tuple[str, tuple[tuple[str, str, str], ...], bool]]:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = load_corpus()
        index = Index(Path(tmp), None, get_embeddings("hashed"))
        index.sync(corpus.passages, list(corpus.facts))
        pipeline = Pipeline.from_corpus(corpus, index=index)
        return [shape(pipeline.answer(q)) for q in questions]


def measure(n: int, questions: list[str], expected: list[Any], count: int) -> dict[str, Any]:
    started = time.perf_counter()
    data = scale_data(n)
    prepared = time.perf_counter() - started
    started = time.perf_counter()
    corpus = FactStore(data.data_dir).corpus(data.corpus_dir)
    index = Index(data.data_dir, None, get_embeddings("hashed"))
    pipeline = Pipeline.from_corpus(corpus, corpus_dir=data.corpus_dir, index=index)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    first = [pipeline.answer(q) for q in questions]  # loads jieba, BM25 and Chroma, as the first questions do
    warm = time.perf_counter() - started
    answer_rounds = rounds(pipeline.answer, questions, count)
    chroma_rounds = rounds(lambda q: index.search_passages(q, k=5), questions, count)
    answer, chroma = summary(answer_rounds), summary(chroma_rounds)
    by_question = [statistics.median(r[i] for r in answer_rounds) for i in range(len(questions))]
    slowest = sorted(range(len(questions)), key=lambda i: -by_question[i])[:3]
    differing = [q for q, a, e in zip(questions, first, expected, strict=True) if shape(a) != e]
    result = {
        "facts": len(corpus.facts),
        "passages": len(corpus.passages),
        "entities": len(corpus.entities),
        "answer_ms": answer,
        "bare_chroma_query_ms": chroma,
        "ratio_p95": round(answer["p95"] / chroma["p95"], 2),
        "ratio_p50": round(answer["p50"] / chroma["p50"], 2),
        "slowest_ms": {questions[i]: round(by_question[i], 2) for i in slowest},
        "load_corpus_and_pipeline_s": round(loaded, 2),
        "first_pass_s": round(warm, 2),
        "data_dir_ready_s": round(prepared, 1),
        "answers_differing_from_shipped": differing,
    }
    return result


def _forget_clients() -> None:
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="items (facts and passages)")
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help="rounds of every question (default %(default)s)"
    )
    args = parser.parse_args()
    questions = [q for q in (ROOT / "benchmarks" / "questions.txt").read_text(encoding="utf-8").splitlines() if q]
    expected = shipped_shapes(questions)
    sizes = {}
    for n in args.sizes:
        sizes[str(n)] = measure(n, questions, expected, args.rounds)
        _forget_clients()  # each size starts without the previous one's Chroma and memory
    small, large = sizes[str(min(args.sizes))], sizes[str(max(args.sizes))]
    growth = large["answer_ms"]["p95"] / small["answer_ms"]["p95"]
    print(
        json.dumps(
            {
                "benchmark": "answer_latency_at_scale",
                "questions": len(questions),
                "rounds": args.rounds,
                "sizes": sizes,
                "p95_growth": {"from": min(args.sizes), "to": max(args.sizes), "times": round(growth, 2)},
                "goals": {
                    "p95_ms_at_largest": {
                        "goal": GOAL_P95_MS,
                        "value": large["answer_ms"]["p95"],
                        "met": large["answer_ms"]["p95"] < GOAL_P95_MS,
                    },
                    "p95_growth": {"goal": GOAL_GROWTH, "value": round(growth, 2), "met": growth < GOAL_GROWTH},
                },
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
