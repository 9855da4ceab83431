"""What the bot needs from the rest of the system, built once at start and swapped whole on reload.

Every method here blocks (Chroma, matplotlib): handlers call them through `asyncio.to_thread`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from knowledge.catalog import MetricInfo, load_metrics
from knowledge.facts import Fact
from knowledge.ingest import FactStore
from knowledge.loaders import Corpus, TableInfo, default_corpus_dir
from retrieval import charts

if TYPE_CHECKING:
    from retrieval.pipeline import Answer, Pipeline


@dataclass(frozen=True)
class Knowledge:
    """One consistent view of the data: the corpus and the pipeline over it."""

    corpus: Corpus
    pipeline: Pipeline
    index_summary: str


class Services:
    """The answer pipeline, charts and data sources for one data dir."""

    def __init__(self, settings: Settings, knowledge: Knowledge, index: Any = None) -> None:
        self.settings = settings
        self._knowledge = knowledge
        self._index = index
        self._lock = threading.Lock()

    @classmethod
    def load(cls, settings: Settings) -> Services:
        """Open the index (building or updating it when the corpus changed) and the pipeline over it."""
        from bot.cli import open_index

        index = open_index(settings)
        return cls(settings, cls._build(settings, index), index)

    @staticmethod
    def _build(settings: Settings, index: Any) -> Knowledge:
        from bot.cli import build_llm
        from retrieval.pipeline import Pipeline

        store = FactStore(settings.data_dir)
        # Under the ingest lock: replicas sharing the data dir and one Chroma server must never sync a
        # corpus read before another's ingest over the index that ingest has just updated.
        with store.locked():
            corpus = store.corpus()
            names = {e.id: (e.name_zh, e.name_en) for e in corpus.entities}
            report = index.sync(corpus.passages, list(corpus.facts), entity_names=names)
        pipeline = Pipeline.from_corpus(corpus, index=index, llm=build_llm(settings), today=date.today)
        return Knowledge(corpus, pipeline, report.summary())

    def reload(self) -> str:
        """Re-read the corpus and everything ingested since start; the index follows. Questions are
        answered from the old data until the new is ready, passage search included."""
        knowledge = self._build(self.settings, self._index)
        _ = knowledge.pipeline.finder
        with self._lock:
            self._knowledge = knowledge
        return f"{len(knowledge.corpus.facts)} facts, {len(knowledge.corpus.passages)} passages ({knowledge.index_summary})"

    def warm_up(self) -> None:
        """Build the passage search now (BM25 and the relevance gate: about 20 s at 100,000 passages) rather
        than on the first question that needs it."""
        _ = self.knowledge.pipeline.finder

    @property
    def index(self) -> Any:
        """The vector index, for ingestion to keep it in step with the stored facts."""
        return self._index

    @property
    def knowledge(self) -> Knowledge:
        with self._lock:
            return self._knowledge

    def answer(self, question: str) -> Answer:
        return self.knowledge.pipeline.answer(question)

    def metrics(self) -> dict[str, MetricInfo]:
        return load_metrics(default_corpus_dir())

    def data_version(self) -> float:
        """Changes whenever something is ingested into the data dir (by the CLI or another process)."""
        return FactStore(self.settings.data_dir).version()

    def tables(self) -> list[TableInfo]:
        return list(self.knowledge.corpus.tables)

    def entity_names(self) -> dict[str, tuple[str, str]]:
        return {e.id: (e.name_zh, e.name_en) for e in self.knowledge.corpus.entities}

    def chart(self, topic: str, lang: str) -> bytes:
        """A PNG for one of `retrieval.charts.TOPICS`; unknown topics raise a user-facing error."""
        from bot.charts import render_png

        spec = charts.chart_spec(topic, self.knowledge.corpus.facts, self.entity_names(), _lang(lang))
        return render_png(spec, _lang(lang))

    def answer_chart(self, answer: Answer) -> bytes | None:
        """A PNG comparing the figures an answer cited, or None when there is nothing to compare."""
        return self.answer_chart_for(answer.facts, answer.language)

    def answer_chart_for(self, facts: Sequence[Fact], lang: str) -> bytes | None:
        """A PNG comparing these figures, or None when there is nothing to compare."""
        from bot.charts import render_png

        spec = charts.chart_for_facts(facts, self.entity_names(), _lang(lang))
        return render_png(spec, _lang(lang)) if spec is not None else None


def topic_for(words: str) -> str | None:
    return charts.find_topic(words) if words.strip() else None


def topics(lang: str) -> list[tuple[str, str]]:
    return [(topic, zh if lang == "zh" else en) for topic, (zh, en) in charts.TOPICS.items()]


def _lang(lang: str) -> charts.Lang:
    return "zh" if lang == "zh" else "en"
