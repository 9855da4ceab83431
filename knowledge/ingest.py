"""Ingest new report tables and articles: validate every file first, diff against what is known, then
store atomically in the data dir, so ingested figures survive restarts and join the shipped corpus.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from knowledge.errors import InvalidFileError, Problem, UserError
from knowledge.facts import Fact, Period
from knowledge.loaders import (
    Corpus,
    Passage,
    entity_lookup,
    has_front_matter,
    load_article,
    load_corpus,
    load_tables,
)

MAX_FILE_BYTES = 5 * 1024 * 1024
TABLE_SUFFIXES = (".csv", ".xlsx", ".md", ".markdown")


class Indexer(Protocol):
    """What ingest needs from the search index (retrieval.index.Index satisfies it)."""

    def sync(self, passages: Sequence[Passage], facts: Sequence[Fact], **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Revision:
    """A figure the new data changes: what it was and what it is now."""

    before: Fact
    after: Fact


@dataclass(frozen=True)
class IngestResult:
    """What one ingest changed; alerts and poll resolution are driven from this."""

    files: tuple[str, ...]
    new: tuple[Fact, ...] = ()
    revised: tuple[Revision, ...] = ()
    unchanged: tuple[Fact, ...] = ()
    articles: tuple[str, ...] = ()
    index_summary: str = ""

    @property
    def changed(self) -> tuple[Fact, ...]:
        """New and revised facts, as they are now."""
        return self.new + tuple(r.after for r in self.revised)

    def summary(self) -> str:
        text = f"{len(self.new)} new, {len(self.revised)} revised, {len(self.unchanged)} unchanged"
        return text + (f"; {len(self.articles)} article(s)" if self.articles else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "new": [f.to_dict() for f in self.new],
            "revised": [{"before": r.before.to_dict(), "after": r.after.to_dict()} for r in self.revised],
            "unchanged": len(self.unchanged),
            "articles": list(self.articles),
            "summary": self.summary(),
            "index": self.index_summary,
        }


@dataclass
class FactStore:
    """Ingested facts and articles under `data_dir/knowledge`; writes are atomic and serialised by a lock."""

    data_dir: Path
    root: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.data_dir) / "knowledge"
        (self.root / "articles").mkdir(parents=True, exist_ok=True)

    @property
    def facts_path(self) -> Path:
        return self.root / "facts.jsonl"

    def facts(self) -> list[Fact]:
        if not self.facts_path.exists():
            return []
        lines = self.facts_path.read_text(encoding="utf-8").splitlines()
        return [fact_from_json(json.loads(line)) for line in lines if line.strip()]

    def version(self) -> float:
        """A stamp that changes when facts or articles are stored (the newest modification time)."""
        paths = [self.facts_path, *self.article_paths()]
        return max((p.stat().st_mtime_ns for p in paths if p.exists()), default=0) / 1e9

    def article_paths(self) -> list[Path]:
        return sorted((self.root / "articles").glob("*.md"))

    def corpus(self, corpus_dir: Path | None = None) -> Corpus:
        """The shipped corpus with everything ingested so far merged in (ingested wins by key)."""
        corpus = load_corpus(corpus_dir, extra_facts=self.facts())
        for path in self.article_paths():
            corpus.passages.extend(load_article(path).passages)
        return corpus

    @contextmanager
    def locked(self) -> Iterator[None]:
        with (self.root / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def save_facts(self, facts: Iterable[Fact]) -> None:
        text = "".join(json.dumps(fact_to_json(f), ensure_ascii=False) + "\n" for f in facts)
        _atomic_write(self.facts_path, text.encode("utf-8"))

    def save_article(self, path: Path) -> None:
        target = self.root / "articles" / path.name
        _atomic_write(target, path.read_bytes())


def ingest(
    paths: Sequence[Path | str],
    store: FactStore,
    index: Indexer | None = None,
    corpus_dir: Path | None = None,
    before_store: Callable[[IngestResult], None] | None = None,
) -> IngestResult:
    """Validate all files, then store new and revised facts and articles, then update the index."""
    files = [Path(p) for p in paths]
    _check_files(files)
    articles = [p for p in files if p.suffix.lower() in (".md", ".markdown") and has_front_matter(p)]
    tables = [p for p in files if p not in articles]
    with store.locked():
        known = store.corpus(corpus_dir)
        incoming = load_tables(tables, entity_lookup(known.entities)) if tables else []
        for path in articles:
            load_article(path)
        new, revised, unchanged = diff(known.facts, incoming)
        if before_store is not None and (new or revised):
            # Whatever must follow from the change (alerts) is recorded before the facts are, so a crash
            # in between can only repeat that work on the next ingest, never lose it.
            before_store(IngestResult(tuple(p.name for p in files), tuple(new), tuple(revised), tuple(unchanged)))
        if new or revised:
            stored = {f.key: f for f in store.facts()}
            stored.update({f.key: f for f in (*new, *(r.after for r in revised))})
            store.save_facts(stored.values())
        for path in articles:
            store.save_article(path)
        summary = ""
        if index is not None and (new or revised or articles):
            merged = store.corpus(corpus_dir)
            names = {e.id: (e.name_zh, e.name_en) for e in merged.entities}
            report = index.sync(merged.passages, list(merged.facts), entity_names=names)
            summary = report.summary() if hasattr(report, "summary") else str(report)
    return IngestResult(
        tuple(p.name for p in files),
        tuple(new),
        tuple(revised),
        tuple(unchanged),
        tuple(p.name for p in articles),
        summary,
    )


def diff(known: Iterable[Fact], incoming: Iterable[Fact]) -> tuple[list[Fact], list[Revision], list[Fact]]:
    """Split incoming facts into new, revised (value, qualifier or unit changed) and unchanged."""
    by_key = {f.key: f for f in known}
    new: list[Fact] = []
    revised: list[Revision] = []
    unchanged: list[Fact] = []
    for fact in incoming:
        before = by_key.get(fact.key)
        if before is None:
            new.append(fact)
        elif (before.value, before.qualifier, before.unit) != (fact.value, fact.qualifier, fact.unit):
            revised.append(Revision(before, fact))
        else:
            unchanged.append(fact)
    return new, revised, unchanged


def _check_files(files: Sequence[Path]) -> None:
    if not files:
        raise UserError("No files given to ingest.")
    problems: list[Problem] = []
    for path in files:
        if not path.is_file():
            problems.append(Problem(path.name, None, None, "file not found"))
        elif path.suffix.lower() not in TABLE_SUFFIXES:
            problems.append(
                Problem(
                    path.name,
                    None,
                    None,
                    f"unsupported file type {path.suffix or '(none)'}; use CSV, XLSX or Markdown",
                )
            )
        elif path.stat().st_size > MAX_FILE_BYTES:
            problems.append(
                Problem(
                    path.name,
                    None,
                    None,
                    f"file is {path.stat().st_size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES // 10**6} MB",
                )
            )
    if problems:
        raise InvalidFileError(problems)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside the target, fsync, then rename over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fact_to_json(fact: Fact) -> dict[str, Any]:
    return {**fact.to_dict(), "origin": fact.origin, "value_text": fact.value_text}


def fact_from_json(data: dict[str, Any]) -> Fact:
    return Fact(**{**data, "period": Period.parse(data["period"])})
