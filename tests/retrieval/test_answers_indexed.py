"""Answers over a synced vector index, in embedded Chroma and on a `chroma run` server: why/what questions
quote article passages the index ranks, and what ingest adds to the index the next pipeline answers from."""

from __future__ import annotations

from datetime import date

import pytest

from knowledge.ingest import FactStore, ingest
from knowledge.loaders import load_corpus
from retrieval.index import Index, fact_id
from retrieval.pipeline import Pipeline

TODAY = date(2026, 11, 29)

WHY = [
    pytest.param("2024 年 7 月发生了什么?", "降价", id="zh-what-happened-2024-07"),
    pytest.param("Why did token usage jump in July 2024?", "降价", id="en-why-2024-07"),
    pytest.param("2025 年 2 月为什么调用量突然暴涨", "DeepSeek-R1", id="zh-why-2025-02"),
    pytest.param(
        "What happened in February 2025 that drove the growth?", "DeepSeek-R1", id="en-what-happened-2025-02"
    ),
    pytest.param("为什么说 MaaS 是晴雨表", "晴雨表", id="zh-why-barometer"),
    pytest.param("Why is MaaS called a barometer of the LLM industry?", "晴雨表", id="en-why-barometer"),
    pytest.param("开发者为什么喜欢 MaaS", "开发者", id="zh-why-developers"),
]

HEADER = "metric,entity,period,value,qualifier,unit,report,published,source,quote\n"
FULL_YEAR = HEADER + (
    "maas_tokens,china_public_cloud,2025,1200万亿,exact,tokens,IDC 2025 全年,2026-03,idc.example,全年 1200 万亿\n"
)
NEWS = (
    "---\nauthor: 测试\ntitle: 合成快讯\nsource: example\n---\n\n"
    "2026 年 8 月,火山引擎发布视频生成模型 Seedance 2.0,视频类 Tokens 调用量一个月内翻倍。\n"
)
NEW_FIGURE = ["2025 年全年公有云调用量是多少", "China public cloud token volume for full-year 2025"]
NEW_EVENT = ["2026 年 8 月发生了什么?", "What happened in August 2026?"]


def names_of(corpus):
    return {e.id: (e.name_zh, e.name_en) for e in corpus.entities}


def synced(data_dir, chroma_url, corpus):
    """The index as `marketbot index` and the bot leave it: every passage and fact, with entity names."""
    index = Index(data_dir, chroma_url=chroma_url)
    index.sync(corpus.passages, list(corpus.facts), entity_names=names_of(corpus))
    return index


def vector_ranked(pipeline, question, passage):
    """The rank the pipeline's index gives the passage for the question, or None when it is not among them."""
    hits = pipeline.finder.searcher.search(question, k=8)
    return next((h.vector_rank for h in hits if (h.passage.source, h.passage.position) == passage), None)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.mark.parametrize(("question", "expected"), WHY)
def test_passage_questions_quote_article_passages_the_index_ranks(
    tmp_path, chroma_url, corpus, question, expected
):
    index = synced(tmp_path, chroma_url, corpus)
    pipeline = Pipeline.from_corpus(corpus, index=index, today=lambda: TODAY)
    got = pipeline.answer(question)
    assert got.status == "answered" and got.passages, got.answer
    assert any(expected in p.text for p in got.passages), got.answer
    assert {p.source for p in got.passages} == {"article.md"}
    assert pipeline.finder.searcher.index is index
    ranks = [vector_ranked(pipeline, question, (p.source, p.position)) for p in got.passages]
    assert any(ranks), f"no quoted passage is among the index's hits: {ranks}"


def test_what_ingest_adds_to_the_index_another_client_answers_from(tmp_path, chroma_url, corpus):
    """`marketbot ingest` (one client) stores a table and an article and syncs the index; the bot (another
    client on the same data dir or server) reloads, builds a new pipeline and answers from them."""
    data = tmp_path / "data"
    before = Pipeline.from_corpus(corpus, index=synced(data, chroma_url, corpus), today=lambda: TODAY)
    assert [before.answer(q).status for q in NEW_FIGURE + NEW_EVENT] == ["not_found"] * 4
    (tmp_path / "full_year.csv").write_text(FULL_YEAR, encoding="utf-8")
    (tmp_path / "news.md").write_text(NEWS, encoding="utf-8")
    store = FactStore(data)
    result = ingest([tmp_path / "full_year.csv", tmp_path / "news.md"], store, Index(data, chroma_url=chroma_url))
    assert result.index_summary.startswith(
        f"passages: 1 added, 0 replaced, 0 removed, {len(corpus.passages)} unchanged; facts: 1 added"
    )

    merged = store.corpus()
    reader = Index(data, chroma_url=chroma_url)
    assert reader.count() == len(corpus.passages) + 1 + len(list(corpus.facts)) + 1
    facts = reader.search_facts("2025 年全年公有云调用量 1200 万亿", k=3)
    assert fact_id("maas_tokens", "china_public_cloud", "2025") in [hit.id for hit in facts]
    after = Pipeline.from_corpus(merged, index=reader, today=lambda: TODAY)
    for question in NEW_FIGURE:
        got = after.answer(question)
        assert got.status == "answered", got.answer
        assert [(f.value, f.source) for f in got.facts] == [(1.2e15, "idc.example")], got.answer
    for question in NEW_EVENT:
        got = after.answer(question)
        assert got.status == "answered", got.answer
        assert [(p.source, p.position) for p in got.passages] == [("news.md", 0)], got.answer
        assert vector_ranked(after, question, ("news.md", 0)), "the new passage is not among the index's hits"


def test_ingest_leaves_the_facts_the_bot_indexed_unchanged(tmp_path, chroma_url, corpus):
    data = tmp_path / "data"
    synced(data, chroma_url, corpus)
    (tmp_path / "full_year.csv").write_text(FULL_YEAR, encoding="utf-8")
    result = ingest([tmp_path / "full_year.csv"], FactStore(data), Index(data, chroma_url=chroma_url))
    assert f"facts: 1 added, 0 replaced, 0 removed, {len(list(corpus.facts))} unchanged" in result.index_summary
