"""`answer(question) -> Answer`: understand → find → compute → compose, the whole answer path.

Deterministic and offline by default; the optional LLM (see `llm.py`) may only rephrase and must keep
every number. Only `Pipeline.load` and the passage search do I/O.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from knowledge.catalog import Erratum, MetricInfo, load_errata, load_metrics
from knowledge.facts import Fact
from knowledge.loaders import Corpus, Passage, default_corpus_dir
from knowledge.units import Quantity
from retrieval.compose import cited_facts, compose
from retrieval.compute import Computation
from retrieval.find import Resolver
from retrieval.intents import Draft, Drafter, t
from retrieval.understand import EntityMatcher, PeriodMention, Query, understand

if TYPE_CHECKING:
    from retrieval.llm import LLM
    from retrieval.passages import PassageFinder
    from retrieval.search import HybridSearcher

Lang = Literal["zh", "en"]
Status = Literal["answered", "not_found"]
MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class Answer:
    """The result of one question, in the JSON shape of DESIGN.md."""

    question: str
    answer: str
    status: Status
    language: Lang
    facts: tuple[Fact, ...] = ()
    computations: tuple[Computation, ...] = ()
    passages: tuple[Passage, ...] = ()
    latency_ms: float = 0.0
    chartable: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "status": self.status,
            "language": self.language,
            "facts": [f.to_dict() for f in self.facts],
            "computations": [c.to_dict() for c in self.computations],
            "passages": [{"source": p.source, "position": p.position, "text": p.text} for p in self.passages],
            "latency_ms": round(self.latency_ms, 2),
        }


class Pipeline:
    """Answers questions over one corpus; build once, call `answer` many times."""

    def __init__(
        self,
        corpus: Corpus,
        searcher: HybridSearcher | Callable[[], HybridSearcher] | None = None,
        metrics: dict[str, MetricInfo] | None = None,
        errata: Sequence[Erratum] = (),
        today: Callable[[], date] = date.today,
        llm: LLM | None = None,
    ) -> None:
        self.corpus = corpus
        self.llm = llm
        self.searcher = searcher
        self.errata = list(errata)
        self.today = today
        self.resolver = Resolver(corpus.facts, metrics or {}, corpus.entities)
        self.entity_matcher = EntityMatcher.of(corpus.entities)
        self._searcher = searcher
        self.drafter = Drafter(self.resolver, self._claim_period)

    @cached_property
    def finder(self) -> PassageFinder | None:
        """Built on the first question that needs passages: figure questions never load jieba or Chroma."""
        from retrieval.passages import PassageFinder

        searcher = self._searcher() if callable(self._searcher) else self._searcher
        return PassageFinder(searcher, self.corpus.passages) if searcher is not None else None

    def _claim_period(self, query: Query, claimed: Quantity) -> PeriodMention | None:
        return self.finder.claim_period(query, claimed) if self.finder is not None else None

    @classmethod
    def from_corpus(
        cls,
        corpus: Corpus,
        corpus_dir: Path | None = None,
        index: Any = None,
        today: Callable[[], date] = date.today,
        llm: LLM | None = None,
    ) -> Pipeline:
        """A pipeline with BM25 and the vector index (an `Index`, or a function that opens one) over the
        corpus passages; both are built on the first question that needs passages."""

        def searcher() -> HybridSearcher:
            from retrieval.search import HybridSearcher

            return HybridSearcher(corpus.passages, index() if callable(index) else index)

        root = corpus_dir or default_corpus_dir()
        return cls(corpus, searcher, load_metrics(root), load_errata(root), today, llm)

    def answer(self, question: str) -> Answer:
        started = time.perf_counter()
        result = self._answer(question)
        if self.llm is not None and result.answer:
            result = self._with_llm(question, result)
        latency = (time.perf_counter() - started) * 1000
        return replace(result, latency_ms=latency)

    def _with_llm(self, question: str, result: Answer) -> Answer:
        """Let the LLM restate a question the rules missed, then phrase; keep ours if it fails a check."""
        assert self.llm is not None
        if result.status == "not_found" and not result.extra.get("rejected"):
            restated = self.llm.reformulate(question, self.drafter.coverage(result.language))
            if restated and restated.strip() != question.strip():
                second = self._answer(restated)
                if second.status == "answered":
                    result = replace(second, question=question)
        if result.status == "answered":
            text = self.llm.rephrase(result)
            if text:
                result = replace(result, answer=text)
        return result

    def _answer(self, question: str) -> Answer:
        problem = self._reject(question)
        if problem is not None:
            return problem
        query = understand(question, self.entity_matcher, self.today())
        draft = self._draft(query)
        text = compose(draft, self.resolver, query.lang)
        return Answer(
            question=question,
            answer=text,
            status=draft.status,
            language=query.lang,
            facts=tuple(cited_facts(draft)),
            computations=tuple(draft.computations),
            passages=tuple(p for p, _ in draft.passages),
            chartable=len({f.key for f in cited_facts(draft)}) >= 2,
        )

    def _reject(self, question: str) -> Answer | None:
        """Input no rule should see: empty, oversized, or without a single letter or digit."""
        text = question.strip()
        lang: Lang = "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"
        if not text or not re.search(r"\w", text):
            message = t(
                lang,
                "请用文字提一个关于中国大模型公有云市场的问题,例如「2024 年公有云 Tokens 调用量是多少?」",
                "Please ask a question about China's LLM public-cloud market in words, e.g. "
                "“What was China's public-cloud token volume in 2024?”",
            )
        elif len(text) > MAX_QUESTION_CHARS:
            message = t(
                lang,
                f"问题太长了({len(text)} 个字符,上限 {MAX_QUESTION_CHARS})。请缩短后再问。",
                f"That question is too long ({len(text)} characters; the limit is {MAX_QUESTION_CHARS}). "
                "Please shorten it.",
            )
        else:
            return None
        return Answer(
            question=question[:200], answer=message, status="not_found", language=lang, extra={"rejected": True}
        )

    def _draft(self, query: Query) -> Draft:
        measured = bool({"share", "daily", "monthly", "volume"} & query.cues)
        ours = set(query.entities) - self.resolver.scope_entities()
        if query.unknown_vendors and not ours and measured and query.intent not in ("why", "convert"):
            return self._not_covered(query)
        if query.intent in ("why",):
            return self._from_passages(query) or self.drafter.not_found(query)
        if "event" in query.cues and not measured:
            # "What did Doubao do in July 2024?" names an entity but asks what happened: the article tells.
            return self._from_passages(query) or self.drafter.draft(query) or self.drafter.not_found(query)
        if self._about_figures(query):
            draft = self.drafter.draft(query)
            if draft is not None:
                return draft
        return self._from_passages(query) or self.drafter.not_found(query)

    def _about_figures(self, query: Query) -> bool:
        cues = {"share", "daily", "monthly", "volume", "market", "national", "ranking"}
        return bool(query.entities) or bool(cues & query.cues) or query.intent in ("convert", "claim")

    def _not_covered(self, query: Query) -> Draft:
        lang = query.lang
        names = t(lang, "、", ", ").join(
            dict.fromkeys(n[0] if lang == "zh" else n[1] for n in query.unknown_vendors)
        )
        covered = t(lang, "、", ", ").join(self.resolver.entity_name(e, lang) for e in self.resolver.entities)
        headline = t(lang, f"数据中没有{names}的数字。", f"The data has no figures for {names}.")
        line = t(lang, f"我有这些主体的数据:{covered}。", f"I have figures for: {covered}.")
        return Draft("not_found", headline, lines=[line, self.drafter.coverage(lang)])

    # --- passages ---------------------------------------------------------------------------------------

    def _from_passages(self, query: Query) -> Draft | None:
        if self.finder is None:
            return None
        chosen = self.finder.choose(query)
        if not chosen:
            return None
        lang = query.lang
        notes = [
            e.note(lang) for p, _ in chosen for e in self.errata if e.source == p.source and e.fragment in p.text
        ]
        headline = t(lang, "文章里的相关内容如下(原文引用):", "Here is what the article says (quoted in Chinese):")
        return Draft("answered", headline, passages=chosen, notes=notes)
