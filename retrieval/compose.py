"""Write a draft out as the answer text, in the question's language: answer first, then the cited
figures with period, qualifier and source, then the arithmetic and any caveats.
"""

from __future__ import annotations

from typing import Literal

from knowledge.facts import Fact
from knowledge.units import format_count, format_percent
from retrieval.find import Resolver
from retrieval.intents import Draft, t

Lang = Literal["zh", "en"]


def cited_facts(draft: Draft) -> list[Fact]:
    """Every fact the draft rests on, once each, in the order they were used."""
    seen: dict[tuple[str, str, str], Fact] = {}
    for op in draft.operands:
        for fact in op.facts:
            seen.setdefault(fact.key, fact)
    return list(seen.values())


def fact_line(fact: Fact, resolver: Resolver, lang: Lang) -> str:
    name = resolver.entity_name(fact.entity, lang)
    metric = resolver.metric_name(fact.metric, lang)
    if fact.unit == "percent":
        value = format_percent(fact.value, fact.qualifier)  # type: ignore[arg-type]
    else:
        value = format_count(fact.value, lang, fact.qualifier)  # type: ignore[arg-type]
    where = ", ".join(part for part in (fact.report, fact.published, fact.source) if part)
    return t(
        lang,
        f"• {name} {fact.period.label('zh')} {metric}:{value}({where})",
        f"• {name}, {fact.period.label('en')}, {metric}: {value} ({where})",
    )


def compose(draft: Draft, resolver: Resolver, lang: Lang) -> str:
    parts = [draft.headline]
    if draft.lines:
        parts.append("\n".join(draft.lines))
    facts = cited_facts(draft)
    if facts:
        header = t(lang, "数据来源:", "Sources:")
        parts.append(header + "\n" + "\n".join(fact_line(f, resolver, lang) for f in facts))
    if draft.computations:
        header = t(lang, "计算:", "Arithmetic:")
        parts.append(header + "\n" + "\n".join(f"• {c.expression}" for c in draft.computations))
    for passage, excerpt in draft.passages:
        who = passage.author or passage.source
        parts.append(
            t(
                lang,
                f"原文({who},{passage.source} 第 {passage.position + 1} 段):「{excerpt}」",
                f"From the article ({who}, {passage.source}, paragraph {passage.position + 1}): “{excerpt}”",
            )
        )
    if draft.notes:
        header = t(lang, "注意:", "Notes:")
        parts.append(header + "\n" + "\n".join(f"• {n}" for n in draft.notes))
    return "\n\n".join(parts)
