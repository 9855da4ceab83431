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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from knowledge.catalog import Erratum, MetricInfo, load_errata, load_metrics
from knowledge.facts import Fact
from knowledge.loaders import Corpus, Passage, default_corpus_dir
from retrieval.compose import cited_facts, compose
from retrieval.compute import Computation
from retrieval.find import Resolver
from retrieval.intents import Draft, Drafter, t
from retrieval.understand import Query, understand

if TYPE_CHECKING:
    from retrieval.llm import LLM
    from retrieval.search import HybridSearcher

Lang = Literal["zh", "en"]
Status = Literal["answered", "not_found"]
MAX_QUESTION_CHARS = 2000
# Words that carry no topic: a passage must match something beyond these to count as relevant.
_GENERIC = {
    "什么",
    "多少",
    "为什么",
    "怎么",
    "如何",
    "哪",
    "哪些",
    "哪个",
    "哪两个",
    "是",
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "有",
    "让",
    "发生",
    "这个",
    "那个",
    "一个",
    "个",
    "请问",
    "告诉",
    "我",
    "你",
    "说",
    "讲",
    "下",
    "数据",
    "what",
    "how",
    "why",
    "which",
    "who",
    "when",
    "is",
    "are",
    "was",
    "were",
    "the",
    "a",
    "an",
    "of",
    "in",
    "on",
    "to",
    "did",
    "do",
    "does",
    "and",
    "or",
    "for",
    "about",
    "tell",
    "me",
    "please",
    "there",
    "that",
    "this",
    "it",
    "with",
}


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
        searcher: HybridSearcher | None = None,
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
        self.drafter = Drafter(self.resolver)

    @classmethod
    def from_corpus(
        cls,
        corpus: Corpus,
        corpus_dir: Path | None = None,
        index: Any = None,
        today: Callable[[], date] = date.today,
        llm: LLM | None = None,
    ) -> Pipeline:
        """A pipeline with BM25 (and the vector index when given) over the corpus passages."""
        from retrieval.search import HybridSearcher

        root = corpus_dir or default_corpus_dir()
        searcher = HybridSearcher(corpus.passages, index)
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
        query = understand(question, self.corpus.entities, self.today())
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
        if query.unknown_vendors and not query.entities and measured and query.intent not in ("why", "convert"):
            return self._not_covered(query)
        if query.intent in ("why",):
            return self._from_passages(query) or self.drafter.not_found(query)
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
        if self.searcher is None:
            return None
        from retrieval import vocabulary
        from retrieval.text import tokenize

        expanded = query.text + " " + " ".join(zh for en, zh in vocabulary.GLOSSARY.items() if en in query.norm)
        wanted = {tok for tok in tokenize(expanded) if tok not in _GENERIC and len(tok.strip()) > 0}
        if not wanted:
            return None
        chosen: list[tuple[Passage, str]] = []
        for hit in self.searcher.search(expanded, k=5):
            passage = hit.passage
            have = set(tokenize(passage.text))
            matched = wanted & have
            if len(matched) >= 2 and len(matched) / len(wanted) >= 0.34:
                chosen.append((passage, excerpt(passage.text, matched)))
            if len(chosen) == 2:
                break
        if not chosen:
            return None
        lang = query.lang
        notes = [
            e.note(lang) for p, _ in chosen for e in self.errata if e.source == p.source and e.fragment in p.text
        ]
        headline = t(lang, "文章里的相关内容如下(原文引用):", "Here is what the article says (quoted in Chinese):")
        return Draft("answered", headline, passages=chosen, notes=notes)


def excerpt(text: str, matched: set[str], limit: int = 240) -> str:
    """The passage itself when short, else its sentences that carry the matched words."""
    if len(text) <= limit:
        return text
    sentences = [s for s in re.split(r"(?<=[。!?;!?])", text) if s.strip()]
    scored = sorted(range(len(sentences)), key=lambda i: -sum(w in sentences[i].lower() for w in matched))
    keep = sorted(scored[:2])
    return "…".join(sentences[i].strip() for i in keep)
