import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from knowledge.loaders import Passage, load_corpus
from retrieval.index import Index
from retrieval.search import HybridSearcher, _top, fuse

QUERIES = {
    "2025 年 2 月发生了什么": "DeepSeek-R1 全球爆火",
    "训练 DeepSeek MoE 需要多少 GPU": "320 张 GPU",
}


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def index(corpus, tmp_path_factory, module_chroma_url):
    index = Index(tmp_path_factory.mktemp("search"), chroma_url=module_chroma_url)
    index.sync(corpus.passages, corpus.facts)
    return index


@pytest.mark.parametrize(("query", "expected"), QUERIES.items())
def test_bm25_only_finds_the_paragraph(corpus, query, expected):
    hits = HybridSearcher(corpus.passages, None).search(query, k=3)
    assert any(expected in hit.passage.text for hit in hits)
    assert all(hit.vector_rank is None and hit.lexical_rank for hit in hits)


@pytest.mark.parametrize(("query", "expected"), QUERIES.items())
def test_hybrid_finds_the_paragraph_without_duplicates(corpus, index, query, expected):
    hits = HybridSearcher(corpus.passages, index).search(query, k=5)
    assert any(expected in hit.passage.text for hit in hits[:3])
    keys = [(hit.passage.source, hit.passage.position) for hit in hits]
    assert len(keys) == len(set(keys))
    assert any(hit.vector_rank for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_fusion_rewards_agreement():
    scores = fuse([[1, 2, 3], [2, 1]])
    assert scores[1] == scores[2] > scores[3]
    assert fuse([]) == {}


def test_nothing_to_find():
    assert HybridSearcher([], None).search("豆包") == []
    searcher = HybridSearcher([Passage("a.md", 0, "火山引擎的份额")], None)
    assert searcher.search("") == []
    assert searcher.search("完全无关的词语 zebra") == []


def test_bm25_queries_are_fast_on_thousands_of_passages():
    passages = [
        Passage(
            "big.md",
            i,
            f"第 {i} 段:火山引擎在 {2020 + i % 6} 年的大模型调用量为 {i * 3.7:.1f} 万亿次,份额 {i % 50}%。",
        )
        for i in range(5000)
    ]
    searcher = HybridSearcher(passages, None)
    searcher.search("火山引擎 2024 年调用量")
    start = time.perf_counter()
    for _ in range(50):
        searcher.search("火山引擎 2024 年调用量")
    assert (time.perf_counter() - start) / 50 < 0.005


def test_vector_hits_outside_the_searchers_passages_are_skipped(corpus, index):
    """The index may hold passages this searcher was not built over (another process ingested an article
    since): they are left out rather than cited without their text."""
    held = corpus.passages[3:8]
    hits = HybridSearcher(held, index).search("2025 年 2 月 DeepSeek", k=5)
    assert {(hit.passage.source, hit.passage.position) for hit in hits} <= {(p.source, p.position) for p in held}
    assert any(hit.vector_rank for hit in hits)


@given(st.lists(st.sampled_from([0.0, -1.0, 0.5, 1.0, 1.5, 2.0, 3.25]), max_size=60), st.integers(0, 12))
def test_top_matches_a_stable_sort_of_the_positive_scores(values, k):
    scores = np.array(values, dtype=float)
    expected = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > 0][:k]
    assert [int(i) for i in _top(scores, k)] == expected
