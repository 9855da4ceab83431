"""Answer latency: per-question p50/p95 through `Pipeline.answer` (batch mode, index loaded once), beside a
bare Chroma similarity query on the same index, and the cold start of `marketbot ask`.

Prints one JSON object. Goals on 2 cores: p95 under 50 ms, at most 5x a bare Chroma query, cold start < 1.5 s.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.loaders import load_corpus  # noqa: E402
from retrieval.embeddings import get_embeddings  # noqa: E402
from retrieval.index import Index  # noqa: E402
from retrieval.pipeline import Pipeline  # noqa: E402

ROUNDS = 5
# Figure questions never load jieba, BM25 or Chroma; passage questions pay for importing chromadb.
FIGURE_QUESTION = "2025 上半年的调用量是 2024 全年的几倍?"
PASSAGE_QUESTION = "2025 年 2 月发生了什么?"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(call, items: list[str]) -> list[float]:
    out = []
    for _ in range(ROUNDS):
        for item in items:
            started = time.perf_counter()
            call(item)
            out.append((time.perf_counter() - started) * 1000)
    return out


def cold_start(data_dir: Path, question: str, runs: int = 5) -> list[float]:
    env = {**os.environ, "MARKETBOT_DATA_DIR": str(data_dir)}
    command = [str(Path(sys.executable).parent / "marketbot"), "ask", "--json", question]
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True)
        walls.append(time.perf_counter() - started)
    return walls


def main() -> None:
    questions = [q for q in (ROOT / "benchmarks" / "questions.txt").read_text(encoding="utf-8").splitlines() if q]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        corpus = load_corpus()
        index = Index(data_dir, None, get_embeddings("hashed"))
        index.sync(corpus.passages, list(corpus.facts))
        pipeline = Pipeline.from_corpus(corpus, index=index)
        for question in questions:
            pipeline.answer(question)
        answer_ms = timed(pipeline.answer, questions)
        chroma_ms = timed(lambda q: index.search_passages(q, k=5), questions)
        figure_cold = cold_start(data_dir, FIGURE_QUESTION)
        passage_cold = cold_start(data_dir, PASSAGE_QUESTION)
    p95_answer, p95_chroma = percentile(answer_ms, 0.95), percentile(chroma_ms, 0.95)
    print(
        json.dumps(
            {
                "benchmark": "answer_latency",
                "questions": len(questions),
                "rounds": ROUNDS,
                "answer_ms": {"p50": round(statistics.median(answer_ms), 2), "p95": round(p95_answer, 2)},
                "bare_chroma_query_ms": {
                    "p50": round(statistics.median(chroma_ms), 2),
                    "p95": round(p95_chroma, 2),
                },
                "ratio_p95": round(p95_answer / p95_chroma, 2),
                "ratio_p50": round(statistics.median(answer_ms) / statistics.median(chroma_ms), 2),
                "cold_start_s": {
                    "figure_question_median": round(statistics.median(figure_cold), 3),
                    "passage_question_median": round(statistics.median(passage_cold), 3),
                    "figure_runs": [round(c, 3) for c in figure_cold],
                    "passage_runs": [round(c, 3) for c in passage_cold],
                },
                "goals": {"p95_ms": 50, "ratio_p95": 5, "cold_start_s": 1.5},
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
