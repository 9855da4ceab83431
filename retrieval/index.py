"""The vector index: passages and facts in Chroma (embedded by default, a server by URL), kept in sync.

`Index.sync` diffs the corpus against what Chroma holds by id and content digest, so re-indexing is cheap.
Passages are stored as vectors and metadata only: the corpus holds their text, and storing it in Chroma
too halved the add rate (benchmarks/bench_index.py). Queries use the raw collection, so answering a
question does not import langchain.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from retrieval.embeddings import get_embeddings

if TYPE_CHECKING:
    from chromadb.api.collection_configuration import CreateCollectionConfiguration
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

    from knowledge.facts import Fact
    from knowledge.loaders import Passage

__all__ = ["CollectionReport", "Hit", "Index", "SyncReport", "fact_id", "passage_id", "render_fact"]

Progress = Callable[[int, int], None]

CHUNK_SIZE = 400
CHUNK_OVERLAP = 50
SEPARATORS = ["\n\n", "\n", "。", "!", "?", ";", "!", "?", ";", ". ", " ", ""]
# HNSW build settings: at 10k real passages Chroma's add ran 2,105/s with its defaults and 2,493/s with
# these, for recall@5 of 0.93 against exact search (0.94 with defaults); the answer path fuses the vector
# ranking with BM25, so the small recall loss costs little. Storing documents mattered far more (above).
HNSW: dict[str, Any] = {"space": "cosine", "ef_construction": 40, "max_neighbors": 8}
STATE_KEY = "marketbot_state"  # collection metadata: the `_state` digest of what the last full sync wrote
STORED_PAGE = 10_000  # ids read per `get` when diffing (2.5 s for 106k documents; 5,000 took 3.3 s)


@dataclass(frozen=True)
class CollectionReport:
    """What one sync did to one collection, counted per passage or fact (not per chunk)."""

    added: int = 0
    replaced: int = 0
    removed: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced or self.removed)

    def __str__(self) -> str:
        return f"{self.added} added, {self.replaced} replaced, {self.removed} removed, {self.unchanged} unchanged"


@dataclass(frozen=True)
class SyncReport:
    passages: CollectionReport = field(default_factory=CollectionReport)
    facts: CollectionReport = field(default_factory=CollectionReport)

    @property
    def changed(self) -> bool:
        return self.passages.changed or self.facts.changed

    def summary(self) -> str:
        return f"passages: {self.passages}; facts: {self.facts}"


@dataclass(frozen=True)
class Hit:
    """A search result: the stored document, its cosine similarity (1 is identical) and metadata."""

    id: str
    text: str
    score: float
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class _Record:
    """One passage or fact as stored: its identity, content digest and the chunks that carry it."""

    key: str
    digest: str
    ids: tuple[str, ...]
    texts: tuple[str, ...]
    metadatas: tuple[dict[str, Any], ...]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def passage_id(source: str, position: int) -> str:
    """The stable id of a passage: it depends on where the passage is, not on what it says."""
    return "p:" + _sha1(f"{source}|{position}")[:16]


def fact_id(metric: str, entity: str, period: str) -> str:
    """The stable id of a fact: its (metric, entity, period) key."""
    return "f:" + _sha1(f"{metric}|{entity}|{period}")[:16]


def render_fact(fact: Fact, entity_names: Mapping[str, tuple[str, str]] | None = None) -> str:
    """One bilingual sentence that embeds well and reads well as a citation."""
    zh, en = (entity_names or {}).get(fact.entity, (fact.entity, fact.entity))
    period = fact.period
    labels = f"{period.label('zh')} / {period.label('en')}" if hasattr(period, "label") else str(period)
    value = fact.value_text or f"{fact.value:g}"
    seen = {value.replace(" ", "")}
    others = [w for w in _value_words(fact) if w.replace(" ", "") not in seen]
    if others:
        value += f" ({' / '.join(others)})"
    qualifier = "" if fact.qualifier == "exact" else f" [{fact.qualifier}]"
    names = f"{zh} ({en})" if en and en != zh else zh
    text = f"{fact.report} {period}: {names} {fact.metric} {labels} = {value}{qualifier} {fact.unit}."
    return f"{text} 原文: {fact.quote}" if fact.quote else text


def _value_words(fact: Fact) -> list[str]:
    """The value in both languages ("536.7 万亿", "536.7 trillion"); percentages read the same in both."""
    if fact.unit != "tokens":
        return []
    from knowledge.units import format_count

    return [format_count(fact.value, "zh"), format_count(fact.value, "en")]


class Index:
    """Passages and facts embedded in two Chroma collections named after the embedder."""

    def __init__(
        self,
        data_dir: Path,
        chroma_url: str | None = None,
        embeddings: Embeddings | None = None,
        client: Any = None,
        hnsw: Mapping[str, Any] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.embeddings = embeddings if embeddings is not None else get_embeddings(None)
        self.embedder_name = _collection_safe(str(getattr(self.embeddings, "name", "")) or "custom")
        self.hnsw = dict(hnsw if hnsw is not None else HNSW)
        self._client = client if client is not None else _connect(self.data_dir, chroma_url)
        self._splitter: Any = None
        self._stores: dict[str, Chroma] = {}
        self._readers: dict[str, Any] = {}

    @property
    def client(self) -> Any:
        return self._client

    def collection_name(self, kind: str) -> str:
        return f"{kind}_{self.embedder_name}"

    def sync(
        self,
        passages: Iterable[Passage],
        facts: Iterable[Fact],
        rebuild: bool = False,
        progress: Progress | None = None,
        entity_names: Mapping[str, tuple[str, str]] | None = None,
    ) -> SyncReport:
        """Make the index hold exactly these passages and facts; only new or changed ones are embedded.

        `progress(done, total)` is called after each batch, counted in stored documents (chunks and facts).
        """
        # Fresh handles: another client may have rebuilt the collections since the last sync.
        self._stores.clear()
        self._readers.clear()
        if rebuild:
            for kind in ("passages", "facts"):
                self._store(kind).reset_collection()
            self._readers.clear()
        passage_records = [self._passage_record(p) for p in passages]
        fact_records = [self._fact_record(f, entity_names) for f in facts]
        states = {"passages": _state(passage_records), "facts": _state(fact_records)}
        plans = {kind: self._plan(kind, records, states[kind]) for kind, records in
                 (("passages", passage_records), ("facts", fact_records))}  # fmt: skip
        chunks = {kind: [c for record in plan[1] for c in _chunks(record)] for kind, plan in plans.items()}
        total, done = sum(len(items) for items in chunks.values()), 0
        for kind, (_report, to_write, stale_ids) in plans.items():
            if to_write or stale_ids:
                self._set_state(kind, "")  # cleared first: a sync cut short must not look finished
            self._delete(kind, stale_ids)
            for batch in _batches(chunks[kind], self._batch_size()):
                self._write(kind, batch)
                done += len(batch)
                if progress is not None:
                    progress(done, total)
        for kind, state in states.items():
            if self._state(kind) != state:
                self._set_state(kind, state)
        return SyncReport(passages=plans["passages"][0], facts=plans["facts"][0])

    def search_passages(self, query: str, k: int = 5) -> list[Hit]:
        return self._search("passages", query, k)

    def search_facts(self, query: str, k: int = 5) -> list[Hit]:
        return self._search("facts", query, k)

    def count(self, kind: str | None = None) -> int:
        """Stored documents (chunks and facts) in one collection, or in both."""
        kinds = [kind] if kind else ["passages", "facts"]
        return sum(self._store(name)._collection.count() for name in kinds)

    # ---- internals -------------------------------------------------------------------------------

    def _store(self, kind: str) -> Chroma:
        """The langchain-chroma store that creates and writes a collection."""
        from langchain_chroma import Chroma

        store = self._stores.get(kind)
        if store is None:
            store = self._stores[kind] = Chroma(
                collection_name=self.collection_name(kind),
                embedding_function=self.embeddings,
                client=self._client,
                collection_configuration=cast("CreateCollectionConfiguration", {"hnsw": self.hnsw}),
            )
        return store

    def _batch_size(self) -> int:
        try:
            return max(1, int(self._client.get_max_batch_size()))
        except (AttributeError, TypeError):
            return 1000

    def _passage_record(self, passage: Passage) -> _Record:
        key = passage_id(passage.source, passage.position)
        digest = _sha1("\x1f".join([passage.title, passage.author, passage.text]))
        chunks = [passage.text] if len(passage.text) <= CHUNK_SIZE else self._split(passage.text)
        ids = (key,) if len(chunks) == 1 else tuple(f"{key}:{n}" for n in range(len(chunks)))
        # Few metadata keys: each one is a row in Chroma's SQLite and slows bulk adds measurably.
        base = {"source": passage.source, "position": passage.position, "digest": digest}
        metadatas = tuple({**base, "chunk": n} for n in range(len(chunks)))
        return _Record(key, digest, ids, tuple(chunks), metadatas)

    def _split(self, text: str) -> list[str]:
        if self._splitter is None:
            from langchain_text_splitters import RecursiveCharacterTextSplitter

            self._splitter = RecursiveCharacterTextSplitter(
                chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, separators=SEPARATORS, keep_separator="end"
            )
        return list(self._splitter.split_text(text))

    def _fact_record(self, fact: Fact, entity_names: Mapping[str, tuple[str, str]] | None) -> _Record:
        period = str(fact.period)
        key = fact_id(fact.metric, fact.entity, period)
        text = render_fact(fact, entity_names)
        meta: dict[str, Any] = {"metric": fact.metric, "entity": fact.entity, "period": period,
                                "value": float(fact.value), "unit": fact.unit, "qualifier": fact.qualifier,
                                "source": fact.source}  # fmt: skip
        meta["digest"] = _sha1(text + json.dumps(meta, sort_keys=True, ensure_ascii=False))
        return _Record(key, meta["digest"], (key,), (text,), (meta,))

    def _plan(
        self, kind: str, records: Sequence[_Record], state: str = ""
    ) -> tuple[CollectionReport, list[_Record], list[str]]:
        """Compare with what Chroma holds: (report, records to write, ids to delete). When the collection
        is stamped with `state`, the state of exactly these records, it holds them all and is not read:
        reading it loads it whole (about 200 MB per 100,000 documents), as answering never needs the facts."""
        wanted = {record.key: record for record in records}  # a later duplicate wins
        if state and self._state(kind) == state:
            return CollectionReport(unchanged=len(wanted)), [], []
        stored: dict[str, tuple[set[str], set[str]]] = {}  # key -> (digests, chunk ids)
        for id_, meta in self._stored(kind):
            key = ":".join(id_.split(":")[:2])  # "p:<hash>:<chunk>" -> "p:<hash>"
            digests, ids = stored.setdefault(key, (set(), set()))
            digests.add(str((meta or {}).get("digest", "")))
            ids.add(id_)
        to_write, stale = [], []
        added = replaced = unchanged = 0
        for key, record in wanted.items():
            if key not in stored:
                added += 1
                to_write.append(record)
                continue
            digests, ids = stored[key]
            if digests == {record.digest} and ids == set(record.ids):
                unchanged += 1
                continue
            replaced += 1
            to_write.append(record)
            stale.extend(sorted(ids - set(record.ids)))
        gone = [key for key in stored if key not in wanted]
        stale.extend(id_ for key in gone for id_ in sorted(stored[key][1]))
        return CollectionReport(added, replaced, len(gone), unchanged), to_write, stale

    def _state(self, kind: str) -> str:
        """The state stamp of a collection: what the last complete sync wrote; "" for none."""
        try:
            metadata = self._client.get_collection(self.collection_name(kind)).metadata
        except Exception:  # Chroma raises NotFoundError/ValueError by version when it does not exist
            return ""
        return str((metadata or {}).get(STATE_KEY, ""))

    def _set_state(self, kind: str, state: str) -> None:
        self._store(kind)._collection.modify(metadata={STATE_KEY: state})

    def _stored(self, kind: str) -> Iterator[tuple[str, Mapping[str, Any] | None]]:
        """(id, metadata) of everything in a collection, read a page at a time: one `get` of everything
        fails past 32,766 documents ("too many SQL variables" in Chroma's SQLite)."""
        collection = self._store(kind)._collection
        for offset in itertools.count(0, STORED_PAGE):
            page = collection.get(include=["metadatas"], limit=STORED_PAGE, offset=offset)
            yield from zip(page["ids"], page["metadatas"] or [], strict=False)
            if len(page["ids"]) < STORED_PAGE:
                return

    def _delete(self, kind: str, ids: list[str]) -> None:
        for batch in _batches(ids, self._batch_size()):
            self._store(kind).delete(ids=batch)

    def _write(self, kind: str, chunks: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        texts = [chunk[2] for chunk in chunks]
        ids = [chunk[1] for chunk in chunks]
        metadatas = [chunk[3] for chunk in chunks]
        if kind == "facts":
            self._store(kind).add_texts(texts=texts, metadatas=metadatas, ids=ids)
            return
        vectors = self.embeddings.embed_documents(texts)
        self._store(kind)._collection.add(ids=ids, embeddings=vectors, metadatas=metadatas)  # type: ignore[arg-type]

    def _reader(self, kind: str) -> Any:
        """The raw collection for queries (no langchain import on the answer path); None before indexing."""
        reader = self._readers.get(kind)
        if reader is None:
            try:
                reader = self._readers[kind] = self._client.get_collection(self.collection_name(kind))
            except Exception:  # Chroma raises NotFoundError/ValueError by version when it does not exist
                return None
        return reader

    def _query(self, kind: str, vector: list[float], k: int) -> Any:
        reader = self._reader(kind)
        if reader is None:
            return None
        return reader.query(
            query_embeddings=[vector], n_results=k, include=["metadatas", "distances", "documents"]
        )

    def _forget(self, kind: str) -> None:
        self._readers.pop(kind, None)
        self._stores.pop(kind, None)

    def _search(self, kind: str, query: str, k: int) -> list[Hit]:
        if k <= 0 or not query.strip():
            return []
        from chromadb.errors import NotFoundError  # loaded already: the client is

        vector = self.embeddings.embed_query(query)
        try:
            found = self._query(kind, vector, k)
        except NotFoundError:
            # Another client rebuilt the collection (`marketbot index --rebuild`, another replica): the
            # cached handle points at the deleted one, so look it up again, once.
            self._forget(kind)
            found = self._query(kind, vector, k)
        if found is None:
            return []
        ids, metas = found["ids"][0], (found.get("metadatas") or [[]])[0]
        docs, distances = (found.get("documents") or [[]])[0], (found.get("distances") or [[]])[0]
        return [
            Hit(id=str(id_), text=str(doc or ""), score=1.0 - float(dist), metadata=dict(meta or {}))
            for id_, doc, dist, meta in zip(ids, docs, distances, metas, strict=False)
        ]


def _state(records: Sequence[_Record]) -> str:
    """A digest of what a collection should hold: every record's key, content digest and chunk ids."""
    wanted = {record.key: record for record in records}
    digest = hashlib.sha1(b"marketbot-index-1")
    for key in sorted(wanted):
        record = wanted[key]
        digest.update(f"\x1e{key}\x1f{record.digest}\x1f{','.join(record.ids)}".encode())
    return digest.hexdigest()


def _chunks(record: _Record) -> Iterable[tuple[str, str, str, dict[str, Any]]]:
    """(record key, chunk id, text, metadata) for each chunk of a record."""
    for id_, text, meta in zip(record.ids, record.texts, record.metadatas, strict=True):
        yield record.key, id_, text, meta


def _batches(items: Sequence[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _collection_safe(name: str) -> str:
    """Chroma collection names are ASCII [a-zA-Z0-9._-], 3-512 characters."""
    return re.sub(r"[^a-zA-Z0-9_-]+", "_", name).strip("_-")[:64] or "custom"


def _connect(data_dir: Path, chroma_url: str | None) -> Any:
    """An HTTP client for a Chroma server URL, else the embedded persistent store under data_dir."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if chroma_url:
        url = urlsplit(chroma_url if "//" in chroma_url else f"http://{chroma_url}")
        ssl = url.scheme == "https"
        port = url.port or (443 if ssl else 8000)
        return chromadb.HttpClient(host=url.hostname or "localhost", port=port, ssl=ssl, settings=settings)
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)
