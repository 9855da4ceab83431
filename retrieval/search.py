"""Hybrid passage search: BM25 over jieba tokens plus the vector index, fused by reciprocal rank.

BM25 is built once in the constructor; the vector side is optional (`index=None` searches lexically only).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.text import tokenize

if TYPE_CHECKING:
    from knowledge.loaders import Passage
    from retrieval.index import Index

__all__ = ["RRF_K", "HybridSearcher", "PassageHit", "fuse"]

RRF_K = 60


@dataclass(frozen=True)
class PassageHit:
    """A fused result; a rank is 1-based and None when that side did not return the passage."""

    passage: Passage
    score: float
    lexical_rank: int | None
    vector_rank: int | None


def fuse(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion: each list adds 1 / (k + rank) to the items it ranks."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


class HybridSearcher:
    """Searches a fixed list of passages; build a new one when the corpus changes."""

    def __init__(self, passages: Sequence[Passage], index: Index | None = None, candidates: int = 20) -> None:
        self.passages = list(passages)
        self.index = index
        self.candidates = candidates
        self._position: dict[tuple[Any, Any], int] = {
            (p.source, p.position): i for i, p in enumerate(self.passages)
        }
        self._bm25: Any = None
        self._vocab: dict[str, int] = {}
        if self.passages:
            import bm25s

            # bm25s sets its own logger to DEBUG at import; keep its per-build chatter out of our output.
            logging.getLogger("bm25s").setLevel(logging.WARNING)

            self._bm25 = bm25s.BM25()
            self._bm25.index([tokenize(p.text) or [""] for p in self.passages], show_progress=False)
            self._vocab = self._bm25.vocab_dict

    def search(self, query: str, k: int = 5) -> list[PassageHit]:
        """The k best passages for the query, best first, each passage at most once."""
        if k <= 0 or not self.passages or not query.strip():
            return []
        lexical = self.lexical_ranking(query)
        vector = self.vector_ranking(query)
        scores = fuse([lexical, vector])
        lexical_rank = {item: rank for rank, item in enumerate(lexical, start=1)}
        vector_rank = {item: rank for rank, item in enumerate(vector, start=1)}
        best = sorted(scores, key=lambda item: (-scores[item], item))[:k]
        return [PassageHit(self.passages[i], scores[i], lexical_rank.get(i), vector_rank.get(i)) for i in best]

    def lexical_ranking(self, query: str) -> list[int]:
        """Passage positions by BM25 score, best first; passages sharing no term are left out."""
        tokens = [token for token in tokenize(query) if token in self._vocab]
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        top = np.argsort(-scores, kind="stable")[: self.candidates]
        return [int(i) for i in top if scores[i] > 0]

    def vector_ranking(self, query: str) -> list[int]:
        """Passage positions by vector similarity; chunks of one passage count once, at their best rank."""
        if self.index is None:
            return []
        ranking: list[int] = []
        for hit in self.index.search_passages(query, k=self.candidates):
            item = self._position.get((hit.metadata.get("source"), hit.metadata.get("position")))
            if item is not None and item not in ranking:
                ranking.append(item)
        return ranking
