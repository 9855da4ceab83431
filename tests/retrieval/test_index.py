import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings

from knowledge.loaders import Passage, load_corpus
from retrieval.embeddings import HashedEmbeddings
from retrieval.index import Index, fact_id, passage_id, render_fact

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def names(corpus):
    return {e.id: (e.name_zh, e.name_en) for e in corpus.entities}


@pytest.fixture
def index(tmp_path, chroma_url):
    return Index(tmp_path, chroma_url=chroma_url)  # embedded under tmp_path/chroma, or the emptied server


def test_fresh_sync_adds_everything_and_resync_changes_nothing(index, corpus, names):
    facts = list(corpus.facts)
    first = index.sync(corpus.passages, facts, entity_names=names)
    assert (first.passages.added, first.facts.added) == (len(corpus.passages), len(facts))
    assert first.changed
    second = index.sync(corpus.passages, facts, entity_names=names)
    assert not second.changed
    assert (second.passages.unchanged, second.facts.unchanged) == (len(corpus.passages), len(facts))
    assert second.summary().startswith(
        f"passages: 0 added, 0 replaced, 0 removed, {len(corpus.passages)} unchanged"
    )


def texts_of(hits, passages):
    """Passages are stored as vectors and metadata; their text comes from the corpus by position."""
    by_position = {(p.source, p.position): p.text for p in passages}
    return [by_position[(hit.metadata["source"], hit.metadata["position"])] for hit in hits]


def test_changed_passage_is_replaced_and_missing_fact_removed(index, corpus):
    facts = list(corpus.facts)
    index.sync(corpus.passages, facts)
    passages = list(corpus.passages)
    passages[3] = dataclasses.replace(passages[3], text=passages[3].text + " 补充一句。")
    report = index.sync(passages, facts[1:])
    assert (report.passages.replaced, report.passages.unchanged) == (1, len(passages) - 1)
    assert (report.facts.removed, report.facts.unchanged) == (1, len(facts) - 1)
    assert index.count("facts") == len(facts) - 1
    hit = index.search_passages(passages[3].text, k=1)[0]
    assert hit.id == passage_id(passages[3].source, passages[3].position)
    assert hit.metadata["position"] == passages[3].position


def test_long_passages_are_chunked_and_replaced_whole(index):
    long_text = "。".join(f"第 {i} 句讲火山引擎的 MaaS 调用量和市场份额的变化情况" for i in range(40))
    passage = Passage("long.md", 0, long_text)
    report = index.sync([passage], [])
    assert report.passages.added == 1 and index.count("passages") > 3
    ids = index._store("passages")._collection.get()["ids"]
    assert all(id_.startswith(passage_id("long.md", 0) + ":") for id_ in ids)
    shorter = dataclasses.replace(passage, text="火山引擎的份额")
    report = index.sync([shorter], [])
    assert report.passages.replaced == 1 and index.count("passages") == 1


def test_progress_reports_batches(index, corpus):
    calls = []
    index.sync(corpus.passages, corpus.facts, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] == index.count()


def test_rebuild_recreates_collections(index, corpus):
    index.sync(corpus.passages, corpus.facts)
    report = index.sync(corpus.passages, corpus.facts, rebuild=True)
    assert report.passages.added == len(corpus.passages) and report.passages.unchanged == 0
    assert index.count() == len(corpus.passages) + len(list(corpus.facts))


def test_ids_derive_from_identity():
    assert passage_id("article.md", 3) == passage_id("article.md", 3) != passage_id("article.md", 4)
    assert fact_id("maas_tokens", "china_public_cloud", "2025H1").startswith("f:")
    assert len(passage_id("a", 1)) == len("p:") + 16


def test_fact_sentence_is_bilingual(corpus, names):
    fact = next(f for f in corpus.facts if f.metric == "maas_tokens" and str(f.period) == "2025H1")
    text = render_fact(fact, names)
    for part in [
        "中国大模型公有云市场",
        "China LLM public cloud",
        "2025 年上半年",
        "H1 2025",
        "536.7",
        "trillion",
    ]:
        assert part in text
    assert fact.quote in text


def test_search_finds_passages_in_chinese_and_english(index, corpus, names):
    index.sync(corpus.passages, corpus.facts, entity_names=names)
    hits = index.search_passages("2025 年 2 月 DeepSeek", k=3)
    assert any("DeepSeek-R1 全球爆火" in text for text in texts_of(hits, corpus.passages))
    assert all(-1.0 <= hit.score <= 1.0 for hit in hits)
    assert hits == sorted(hits, key=lambda hit: -hit.score)
    facts = index.search_facts("Volcano Engine MaaS share H1 2025", k=3)
    assert any(hit.metadata["entity"] == "volcano_engine" and hit.metadata["period"] == "2025H1" for hit in facts)
    facts = index.search_facts("Google monthly tokens June 2025", k=3)
    assert any(hit.metadata["entity"] == "google" for hit in facts)


def test_index_persists_across_processes(tmp_path, chroma_url, corpus):
    """What one process stores (`marketbot index`), another (the bot, or a second replica) finds."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from knowledge.loaders import load_corpus
        from retrieval.index import Index
        corpus = load_corpus()
        index = Index(Path({str(tmp_path)!r}), chroma_url={chroma_url!r})
        print(index.sync(corpus.passages, corpus.facts).summary())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert f"passages: {len(corpus.passages)} added" in done.stdout
    index = Index(tmp_path, chroma_url=chroma_url)
    report = index.sync(corpus.passages, corpus.facts)
    assert not report.changed
    hits = index.search_passages("2025 年 2 月 DeepSeek", k=3)
    assert any("DeepSeek-R1" in text for text in texts_of(hits, corpus.passages))


def test_embedders_get_separate_collections(tmp_path, chroma_url):
    small = Index(tmp_path, chroma_url=chroma_url, embeddings=HashedEmbeddings(dim=256))
    default = Index(tmp_path, chroma_url=chroma_url)
    assert small.collection_name("passages") == "passages_hashed256"
    assert default.collection_name("facts") == "facts_hashed384"
    small.sync([Passage("a.md", 0, "火山引擎的份额")], [])
    default.sync([Passage("a.md", 0, "火山引擎的份额"), Passage("a.md", 1, "豆包的日均调用量")], [])
    assert (small.count("passages"), default.count("passages")) == (1, 2)
    names = {collection.name for collection in default.client.list_collections()}
    assert {"passages_hashed256", "passages_hashed384"} <= names


def test_embedders_share_an_ephemeral_client_without_touching_disk(tmp_path):
    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    Index(tmp_path, client=client, embeddings=HashedEmbeddings(dim=256)).sync([Passage("a.md", 0, "火山引擎")], [])
    Index(tmp_path, client=client).sync([], [])
    assert {"passages_hashed256", "passages_hashed384"} <= {c.name for c in client.list_collections()}
    assert not (tmp_path / "chroma").exists()


@pytest.mark.chroma_server
def test_a_server_index_keeps_nothing_under_the_data_dir(tmp_path, empty_chroma_server, corpus, names):
    index = Index(tmp_path, chroma_url=empty_chroma_server)
    index.sync(corpus.passages, corpus.facts, entity_names=names)
    assert index.count() == len(corpus.passages) + len(list(corpus.facts))
    assert not (tmp_path / "chroma").exists()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("127.0.0.1:{port}", id="no-scheme"),
        pytest.param("http://127.0.0.1:{port}", id="http"),
        pytest.param("http://127.0.0.1:{port}/", id="trailing-slash"),
    ],
)
@pytest.mark.chroma_server
def test_server_url_may_omit_the_scheme_or_end_in_a_slash(tmp_path, empty_chroma_server, url):
    port = empty_chroma_server.rsplit(":", 1)[1]
    index = Index(tmp_path, chroma_url=url.format(port=port))
    index.sync([Passage("a.md", 0, "火山引擎的份额")], [])
    assert index.count("passages") == 1


def test_search_survives_a_rebuild_by_another_client(tmp_path, chroma_url, corpus):
    serving = Index(tmp_path, chroma_url=chroma_url)
    serving.sync(corpus.passages, corpus.facts)
    assert serving.search_passages("2025 年 2 月 DeepSeek", k=3)
    Index(tmp_path, chroma_url=chroma_url).sync(corpus.passages, corpus.facts, rebuild=True)
    hits = serving.search_passages("2025 年 2 月 DeepSeek", k=3)
    assert any("DeepSeek-R1" in text for text in texts_of(hits, corpus.passages))


def test_what_is_stored_is_read_in_pages(index, tmp_path, chroma_url, corpus, names, monkeypatch):
    """One `get` of everything fails past 32,766 documents in Chroma's SQLite: the diff reads pages."""
    import retrieval.index

    monkeypatch.setattr(retrieval.index, "STORED_PAGE", 7)  # 26 passages and 20 facts span several pages
    index.sync(corpus.passages, list(corpus.facts), entity_names=names)
    changed = [dataclasses.replace(corpus.passages[0], text=corpus.passages[0].text + "(修订)")]
    report = Index(tmp_path, chroma_url=chroma_url).sync(
        changed + list(corpus.passages[1:]), list(corpus.facts)[1:], entity_names=names
    )
    assert (report.passages.added, report.passages.replaced, report.passages.removed) == (0, 1, 0)
    assert report.passages.unchanged == len(corpus.passages) - 1
    assert (report.facts.added, report.facts.removed, report.facts.unchanged) == (0, 1, len(corpus.facts) - 1)


def test_an_unchanged_index_is_not_read_again_but_a_change_is_found(
    index, tmp_path, chroma_url, corpus, names, monkeypatch
):
    """A complete sync stamps each collection with the state it wrote; the next sync of the same records
    trusts the stamp (reading a collection makes Chroma load it whole), any other sync reads and diffs."""
    index.sync(corpus.passages, list(corpus.facts), entity_names=names)
    reads: list[str] = []
    original = Index._stored

    def counting(self, kind):
        reads.append(kind)
        return original(self, kind)

    monkeypatch.setattr(Index, "_stored", counting)
    again = Index(tmp_path, chroma_url=chroma_url).sync(corpus.passages, list(corpus.facts), entity_names=names)
    assert not again.changed and reads == []
    fewer = Index(tmp_path, chroma_url=chroma_url).sync(
        corpus.passages[1:], list(corpus.facts), entity_names=names
    )
    assert fewer.passages.removed == 1 and reads == ["passages"]
