"""Index throughput: a full `Index.sync` of 10,000 synthetic bilingual passages into fresh embedded Chroma.

Prints one JSON object; `--grid` also measures HNSW/dimension trade-offs (speed and recall@5 vs exact search).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.loaders import Passage
from retrieval.embeddings import HashedEmbeddings
from retrieval.index import HNSW, Index

GOAL = 2000
VENDORS = [
    "火山引擎",
    "阿里云",
    "百度智能云",
    "腾讯云",
    "华为云",
    "Volcano Engine",
    "Alibaba Cloud",
    "Google",
    "豆包",
]
MODELS = ["DeepSeek-R1", "DeepSeek-V3.1", "豆包大模型", "Qwen3", "GPT-5", "Gemini 2.5", "文心一言", "Kimi K2"]
ZH_TEMPLATES = [
    "{year} 年{half},{vendor}的大模型 Tokens 调用量达到 {num} 万亿次,环比增长 {pct}%。",
    "据 IDC 统计,{vendor}在中国大模型公有云市场的份额为 {pct}%,位居第 {rank}。",
    "{year} 年 {month} 月,{model} 发布后,开发者在{vendor}上的日均调用量突破 {num} 亿次。",
    "MaaS 模式让开发者按量付费,{vendor}把 {model} 等模型封装到云上,降低了推理成本。",
    "训练一套完整的 {model} 模型至少需要 {gpu} 张 GPU,这对普通开发者来说门槛很高。",
    "国家数据局披露,截至 {year} 年 {month} 月底,我国日均 Token 消耗量已超过 {num} 万亿。",
]
EN_TEMPLATES = [
    "In {half_en} {year}, {vendor} served {num} trillion tokens through its public cloud, up {pct}%.",
    "{vendor} held a {pct}% share of China's MaaS token market in {year}, ranking number {rank}.",
    "After {model} launched in {month_en} {year}, daily token calls on {vendor} passed {num} billion.",
    "Developers pay per token: {vendor} hosts models such as {model}, cutting inference costs.",
]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December"]  # fmt: skip


def synthetic_passages(n: int, seed: int = 7) -> list[Passage]:
    """Mixed Chinese/English paragraphs of 1-3 sentences with varied figures, vendors and periods."""
    rng = random.Random(seed)
    passages = []
    for i in range(n):
        sentences = []
        for _ in range(rng.randint(1, 3)):
            template = rng.choice(ZH_TEMPLATES if rng.random() < 0.7 else EN_TEMPLATES)
            month = rng.randint(1, 12)
            sentences.append(template.format(
                year=rng.randint(2023, 2026), half=rng.choice(["上半年", "下半年"]),
                half_en=rng.choice(["H1", "H2"]), month=month, month_en=MONTHS_EN[month - 1],
                vendor=rng.choice(VENDORS), model=rng.choice(MODELS), num=round(rng.uniform(1, 999), 1),
                pct=round(rng.uniform(1, 80), 1), rank=rng.randint(1, 5), gpu=rng.choice([64, 128, 320, 2048]),
            ))  # fmt: skip
        passages.append(Passage(f"synthetic/{i // 100}.md", i % 100, " ".join(sentences)))
    return passages


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_sync(passages: list[Passage], embedder: HashedEmbeddings, hnsw: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(Path(tmp), embeddings=embedder, hnsw=hnsw)
        start, cpu = time.perf_counter(), _cpu()
        report = index.sync(passages, [])
        wall, cpu = time.perf_counter() - start, _cpu() - cpu
        assert report.passages.added == len(passages), report.summary()
        recall = _recall(index, embedder, passages)
        _forget_clients()
    return {"seconds": round(wall, 3), "passages_per_s": round(len(passages) / wall),
            "cpu_passages_per_s": round(len(passages) / cpu), "recall_at_5": recall}  # fmt: skip


def _recall(index: Index, embedder: HashedEmbeddings, passages: list[Passage], queries: int = 50) -> float:
    """Share of the exact top-5 (brute-force cosine) that Chroma's HNSW returns."""
    matrix = embedder.embed_array([p.text for p in passages])
    rng = random.Random(1)
    found = 0
    for passage in rng.sample(passages, queries):
        query = passage.text[: len(passage.text) // 2]
        exact = np.argsort(-(matrix @ embedder.embed_array([query])[0]))[:5]
        want = {(passages[i].source, passages[i].position) for i in exact}
        got = {(h.metadata["source"], h.metadata["position"]) for h in index.search_passages(query, k=5)}
        found += len(want & got)
    return round(found / (5 * queries), 3)


def _forget_clients() -> None:
    """Drop Chroma's per-path client cache so each run starts cold, as a new process would."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def embed_rate(passages: list[Passage], embedder: HashedEmbeddings) -> float:
    texts = [p.text for p in passages]
    start = time.perf_counter()
    embedder.embed_documents(texts)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--grid", action="store_true", help="also compare dimensions and HNSW settings")
    args = parser.parse_args()
    passages = synthetic_passages(args.passages)
    embedder = HashedEmbeddings()
    embed_rate(passages[:200], embedder)  # warm up numpy and caches
    runs = [timed_sync(passages, embedder, HNSW) for _ in range(args.runs)]
    embeds = [embed_rate(passages, embedder) for _ in range(args.runs)]
    result: dict[str, Any] = {
        "benchmark": "index_throughput",
        "passages": len(passages),
        "mean_chars": round(statistics.mean(len(p.text) for p in passages), 1),
        "embedder": embedder.name,
        "hnsw": HNSW,
        "passages_per_s_median": statistics.median(r["passages_per_s"] for r in runs),
        "cpu_passages_per_s_median": statistics.median(r["cpu_passages_per_s"] for r in runs),
        "runs": runs,
        "embed_only_per_s_median": round(statistics.median(embeds)),
        "goal_passages_per_s": GOAL,
    }
    if args.grid:
        result["grid"] = grid(passages)
    print(json.dumps(result, ensure_ascii=False))


def grid(passages: list[Passage]) -> list[dict[str, Any]]:
    rows = []
    for dim in (256, 384):
        for efc, m in ((100, 16), (64, 16), (40, 12), (32, 8)):
            hnsw = {**HNSW, "ef_construction": efc, "max_neighbors": m}
            run = timed_sync(passages, HashedEmbeddings(dim=dim), hnsw)
            rows.append({"dim": dim, "ef_construction": efc, "max_neighbors": m, **run})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    main()
