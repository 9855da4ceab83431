"""Choose the article passages that answer a why/what question, and find a claim's context in them.

Relevance is judged, not assumed: a passage must cover the question's rare words (IDF-weighted) or
name the period asked about; an off-topic question gets no passage at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.loaders import Passage
from knowledge.units import Quantity, find_quantities
from retrieval import vocabulary
from retrieval.search import HybridSearcher, PassageTokens
from retrieval.text import STOPWORDS, tokenize
from retrieval.understand import PeriodMention, Query, find_periods, normalize

# Question words: a passage must match something beyond these (the tokenizer already drops stopwords).
GENERIC = (
    set(
        [
            "什么",
            "多少",
            "为什么",
            "为何",
            "怎么",
            "如何",
            "哪",
            "哪些",
            "哪个",
            "哪两个",
            "发生",
            "请问",
            "告诉",
            "讲",
            "下",
            "数据",
            "时候",
            "什么时候",
            "原因",
            "年",
            "月",
            "呀",
            "哪里",
            "哪家",
            "多",
            "少",
            "能",
            "会",
            "要",
            "里",
            "what",
            "how",
            "why",
            "which",
            "who",
            "when",
            "where",
            "did",
            "do",
            "does",
            "about",
            "tell",
            "me",
            "please",
            "there",
            "that",
            "this",
            "called",
            "call",
            "s",
            "t",
        ]
    )
    | STOPWORDS
)
MIN_COVERAGE = 0.34


@dataclass(frozen=True)
class Choice:
    passage: Passage
    score: float
    matched: frozenset[str]


class PassageFinder:
    """Hybrid search plus a relevance gate over one set of passages."""

    def __init__(self, searcher: HybridSearcher, passages: Sequence[Passage]) -> None:
        self.searcher = searcher
        self.passages = list(passages)
        if searcher.passages == self.passages:  # as the pipeline builds it: tokenize once, for both
            self._tokens, self._by_key = searcher.tokens, searcher.positions
        else:
            self._tokens = PassageTokens.build(self.passages)[0]
            self._by_key = {(p.source, p.position): i for i, p in enumerate(self.passages)}

    def idf(self, token: str) -> float:
        return math.log((len(self.passages) + 1) / (self._tokens.frequency(token) + 0.5))

    def wanted(self, query: Query) -> set[str]:
        """The question's topic words; English words the Chinese corpus cannot contain are translated or dropped."""
        extra = " ".join(zh for en, zh in vocabulary.GLOSSARY.items() if _has_word(query.norm, en))
        words = {tok for tok in tokenize(query.text + " " + extra) if tok not in GENERIC and not tok.isdigit()}
        if query.lang == "en":
            words = {w for w in words if self._tokens.frequency(w) > 0}
        return words

    def choose(self, query: Query, limit: int = 3) -> list[tuple[Passage, str]]:
        wanted = self.wanted(query)
        periods = {m.canonical() for m in query.periods if m.year is not None}
        if not wanted and not periods:
            return []
        hits = self.searcher.search(query.text + " " + " ".join(sorted(wanted)), k=8)
        choices: list[Choice] = []
        for hit in hits:
            choices += self._judge(hit.passage, wanted, periods, query)
        best: dict[tuple[str, int], Choice] = {}
        for choice in sorted(choices, key=lambda c: -c.score):
            best.setdefault((choice.passage.source, choice.passage.position), choice)
        ranked = sorted(best.values(), key=lambda c: -c.score)[:limit]
        ranked.sort(key=lambda c: (c.passage.source, c.passage.position))
        return [(c.passage, excerpt(c.passage.text, set(c.matched))) for c in ranked]

    def _judge(self, passage: Passage, wanted: set[str], periods: set[str], query: Query) -> list[Choice]:
        index = self._by_key.get((passage.source, passage.position))
        tokens = self._tokens.of(index) if index is not None else set(tokenize(passage.text))
        matched = frozenset(wanted & tokens)
        total = sum(self.idf(w) for w in wanted) or 1.0
        coverage = sum(self.idf(w) for w in matched) / total if wanted else 0.0
        on_period = bool(periods & self._periods(passage, query))
        relevant = (coverage >= MIN_COVERAGE and (len(matched) >= 2 or len(wanted) <= 2)) or (
            on_period and (query.intent == "why" or matched)
        )
        if not relevant:
            return []
        score = coverage + (0.6 if on_period else 0.0)
        result = [Choice(passage, score, matched)]
        if _asks(passage.text) and index is not None:
            # A paragraph that poses the question ("这两个时间发生了什么事?"): the next ones answer it.
            for follower in self.passages[index + 1 : index + 3]:
                if follower.source == passage.source and (not periods or periods & self._periods(follower, query)):
                    result.append(Choice(follower, score - 0.05, matched))
            result[0] = Choice(passage, score - 0.1, matched)
        return result

    @staticmethod
    def _periods(passage: Passage, query: Query) -> set[str]:
        return {m.canonical() for m in find_periods(normalize(passage.text), query.today) if m.year is not None}

    def claim_period(self, query: Query, claimed: Quantity) -> PeriodMention | None:
        """The period a passage gives for the figure a claim quotes ("500 亿" → 截至 2025 年 5 月)."""
        for passage in self.passages:
            values = [f.quantity.value for f in find_quantities(passage.text) if f.quantity.kind == claimed.kind]
            if any(math.isclose(v, claimed.value, rel_tol=0.01) for v in values):
                dated = [m for m in find_periods(normalize(passage.text), query.today) if m.year is not None]
                if dated:
                    return dated[-1]
        return None


def _has_word(norm: str, word: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", norm) is not None


def _asks(text: str) -> bool:
    return text.rstrip().endswith(("?", "?"))


def excerpt(text: str, matched: set[str], limit: int = 240) -> str:
    """The passage itself when short, else its two sentences that carry the most matched words."""
    if len(text) <= limit:
        return text
    sentences = [s for s in re.split(r"(?<=[。!?;!?])", text) if s.strip()]
    scored = sorted(range(len(sentences)), key=lambda i: -sum(w in sentences[i].lower() for w in matched))
    keep = sorted(scored[:2])
    return "…".join(sentences[i].strip() for i in keep)
