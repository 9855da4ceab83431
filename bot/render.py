"""Rendering is pure: answers become HTML-escaped chunks under Telegram's 4096-character limit, or
plain text for the console. Escaping happens before splitting is measured, and never splits an entity.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.pipeline import Answer

TELEGRAM_LIMIT = 4096


def html_chunks(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Escaped chunks of at most `limit` characters. Whole paragraphs are packed together while they fit;
    a paragraph too long for one message is cut between lines, and a line too long between characters."""
    units: list[str] = []
    for paragraph in text.strip("\n").split("\n\n"):
        if not paragraph.strip():
            continue
        units += [paragraph] if _size(paragraph) <= limit else _pack(_lines(paragraph, limit), "\n", limit)
    chunks = [html.escape(chunk.strip("\n"), quote=False) for chunk in _pack(units, "\n\n", limit)]
    return [chunk for chunk in chunks if chunk.strip()] or [""]


def _pack(pieces: list[str], joiner: str, limit: int) -> list[str]:
    """Greedily join pieces (each fits alone) into as few chunks as fit in `limit`."""
    chunks: list[str] = []
    for piece in pieces:
        if chunks and _size(chunks[-1] + joiner + piece) <= limit:
            chunks[-1] += joiner + piece
        else:
            chunks.append(piece)
    return chunks


def _lines(paragraph: str, limit: int) -> list[str]:
    """The paragraph's lines, each line too long on its own cut into pieces that fit."""
    pieces: list[str] = []
    for line in paragraph.split("\n"):
        while _size(line) > limit:
            cut = _fitting_prefix(line, limit)
            pieces.append(line[:cut])
            line = line[cut:]
        pieces.append(line)
    return pieces


def _size(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units of the escaped text (an emoji counts 2)."""
    return len(html.escape(text, quote=False).encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """The longest prefix whose escaped form fits in `limit` (an entity counts whole)."""
    size = 0
    for i, char in enumerate(text):
        size += _size(char)
        if size > limit:
            return max(i, 1)
    return len(text)


def plain(answer: Answer) -> str:
    """The console's text: the same answer the bot sends, without markup."""
    return answer.answer


def sources_text(answer: Answer, lang: str, names: Mapping[str, tuple[str, str]] | None = None) -> str:
    """What the Sources button shows: each cited figure's quote and report, and quoted passages."""
    lines = ["来源与原文:" if lang == "zh" else "Sources and quotes:"]
    for fact in answer.facts:
        zh_en = (names or {}).get(fact.entity)
        name = (zh_en[0] if lang == "zh" else zh_en[1]) if zh_en else fact.entity
        where = ", ".join(part for part in (fact.report, fact.published, fact.source) if part)
        lines.append(f"• {name} {fact.period.label(lang)}: 「{fact.quote}」 ({where})")
    for passage in answer.passages:
        lines.append(f"• {passage.source} ¶{passage.position + 1}: 「{passage.text}」")
    if len(lines) == 1:
        lines.append("这个回答没有引用数据。" if lang == "zh" else "This answer cites no figures.")
    return "\n".join(lines)
