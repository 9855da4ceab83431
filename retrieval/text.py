"""Text normalisation and tokenisation shared by the lexical index and the hashed embedder.

Chinese is segmented with jieba (loaded lazily, once, with the domain vocabulary); Latin words and numbers are split by a regex.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["DOMAIN_WORDS", "STOPWORDS", "add_words", "normalize", "tokenize"]

# Words jieba's dictionary lacks or splits (大模型 -> 大/模型); entity names arrive through `add_words`.
DOMAIN_WORDS: tuple[str, ...] = (
    "大模型", "公有云", "调用量", "调用总量", "使用量", "千万亿", "万亿", "亿次", "市场份额", "份额",
    "maas", "tokens", "token", "火山引擎", "豆包", "豆包大模型", "阿里云", "百度智能云", "百度云",
    "国家数据局", "谷歌", "字节", "抖音", "模型即服务", "模型商品化", "商品化", "推理", "预训练",
    "开源模型", "日均", "月均", "上半年", "下半年", "全年", "环比", "同比", "降价", "deepseek",
    "算力", "云厂商", "开发者", "智能云", "词元",
)  # fmt: skip

STOPWORDS: frozenset[str] = frozenset(
    "的 了 是 在 和 与 及 也 都 就 而 把 被 这 那 个 一个 这个 那个 有 我 我们 你 你们 他 她 它 吗 呢 吧 啊 之 其 或 等 对 从 到 为 以 于 上 中 着 过 又 还 但 并 让 给 "
    "the of a an and or to in on for is are was were be been by with "
    "as at it its this that from what which who how does do did than".split()
)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SEGMENTS = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:\.[0-9]+)*")
_WHITESPACE = re.compile(r"\s+")

DICTIONARY_WORDS = 50_000
_lock = threading.Lock()
_jieba: Any = None
_pending: set[str] = set()


def normalize(text: str) -> str:
    """NFKC-fold (full-width to half-width), lowercase and collapse whitespace."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def add_words(words: Iterable[str]) -> None:
    """Teach the segmenter domain words (entity names, aliases, metric words); cheap to repeat."""
    cleaned = {normalize(word) for word in words}
    # jieba never matches across spaces or punctuation, so only single runs of CJK/Latin help.
    cleaned = {word for word in cleaned if word and " " not in word}
    with _lock:
        if _jieba is None:
            _pending.update(cleaned)
            return
        for word in cleaned:
            _jieba.add_word(word)


def tokenize(text: str) -> list[str]:
    """Split into lowercase words: jieba search-mode words for Chinese, regex words for the rest.

    Punctuation and stopwords are dropped; numbers such as "536.7" stay whole.
    """
    jieba = _segmenter()
    tokens: list[str] = []
    for segment in _SEGMENTS.findall(normalize(text)):
        if segment[0].isascii():
            if segment not in STOPWORDS:
                tokens.append(segment)
            continue
        tokens.extend(word for word in jieba.lcut_for_search(segment, HMM=False) if word not in STOPWORDS)
    return tokens


def _small_dictionary(jieba: Any) -> Path:
    """jieba's dictionary cut to its most frequent words, written once to the temp dir.

    Loading the full 350k-word dictionary takes about 1.6 s on every start; the top 50k load in 0.2 s and
    segment this corpus the same (domain words are added on top; rarer words fall back to characters).
    """
    source = Path(jieba.__file__).parent / "dict.txt"
    target = Path(tempfile.gettempdir()) / f"marketbot-jieba-{DICTIONARY_WORDS}-{jieba.__version__}.txt"
    if target.exists():
        return target
    rows = [line.split() for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows.sort(key=lambda row: -int(row[1]))
    text = "".join(" ".join(row) + "\n" for row in rows[:DICTIONARY_WORDS])
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".marketbot-jieba-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, target)
    return target


def _segmenter() -> Any:
    """Load jieba once per process, quietly, with the built-in and any pending domain words."""
    global _jieba
    if _jieba is not None:
        return _jieba
    with _lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.set_dictionary(str(_small_dictionary(jieba)))
            jieba.initialize()
            for word in (*DOMAIN_WORDS, *sorted(_pending)):
                jieba.add_word(word)
            _pending.clear()
            _jieba = jieba
    return _jieba
