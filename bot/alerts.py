"""Data alerts, the pure part: the topics a chat can follow, and what one ingest changed, grouped by series
and worded against the figures already held. No I/O: the job loads, calls these, renders and sends.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from knowledge.catalog import MetricInfo, metric_info
from knowledge.errors import UserError
from knowledge.facts import QUALIFIERS, Fact, FactsTable, Period
from knowledge.ingest import Revision
from knowledge.loaders import Entity
from knowledge.units import Lang, Qualifier, format_count, format_percent, format_points, format_ratio
from retrieval.compute import Computation, Operand, difference, growth, ratio

ALL, NEWS = "all", "news"
_ALL_WORDS = ("", "all", "全部", "everything")
_NEWS_WORDS = ("news", "新闻")
_PREFIXES = {"metric": ("metric:", "指标:"), "entity": ("entity:", "主体:")}

Change = tuple[Fact | None, Fact]  # (the figure before, or None when new; the figure now)


@dataclass(frozen=True)
class DataAlert:
    """The changes of one ingest to one (metric, entity) series; `revised_from[i]` is what `facts[i]` replaced."""

    key: str
    topics: tuple[str, ...]
    facts: tuple[Fact, ...]
    revised_from: tuple[Fact | None, ...]


# ---- topics ------------------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    """Case, width, spaces, `_` and `-` don't matter: "MaaS tokens" = "maas_tokens" = "ＭａａＳ tokens"."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if not ch.isspace() and ch not in "_-")


def _metric_words(metrics: Mapping[str, MetricInfo]) -> dict[str, str]:
    return {
        _norm(word): info.id
        for info in metrics.values()
        for word in (info.id, info.name_zh, info.name_en, *info.aliases)
        if _norm(word)
    }


def _entity_words(entities: Sequence[Entity]) -> dict[str, str]:
    return {
        _norm(word): e.id for e in entities for word in (e.id, e.name_zh, e.name_en, *e.aliases) if _norm(word)
    }


def parse_topic(words: str, metrics: Mapping[str, MetricInfo], entities: Sequence[Entity]) -> str:
    """What a user typed after /subscribe as a topic: "all", "news", "metric:<id>" or "entity:<id>"."""
    wanted = _norm(words)
    if wanted in _ALL_WORDS:
        return ALL
    if wanted in _NEWS_WORDS:
        return NEWS
    tables = {"metric": _metric_words(metrics), "entity": _entity_words(entities)}
    for kind, prefixes in _PREFIXES.items():
        for prefix in prefixes:
            if wanted.startswith(prefix) and wanted.removeprefix(prefix) in tables[kind]:
                return f"{kind}:{tables[kind][wanted.removeprefix(prefix)]}"
    for kind, table in tables.items():
        if wanted in table:
            return f"{kind}:{table[wanted]}"
    raise UserError(_choices(words, metrics, entities))


def _choices(words: str, metrics: Mapping[str, MetricInfo], entities: Sequence[Entity]) -> str:
    lines = [f"不认识的主题「{words.strip()}」,可以订阅 / Unknown topic “{words.strip()}”; you can follow:"]
    lines += ["• all / 全部", "• news / 新闻"]
    lines += [f"• {m.id}: {m.name_zh} / {m.name_en}" for m in metrics.values()]
    lines += [f"• {e.id}: {e.name_zh} / {e.name_en}" for e in entities]
    return "\n".join(lines)


def topic_label(
    topic: str, metrics: Mapping[str, MetricInfo], entity_names: Mapping[str, tuple[str, str]], lang: str
) -> str:
    """A topic as a chat shows it: "全部", "新闻", "指标:大模型公有云 Tokens 调用量", "entity: Volcano Engine"."""
    language = _lang(lang)
    kind, _, ident = topic.partition(":")
    if topic == ALL:
        return _t(language, "全部", "everything")
    if topic == NEWS:
        return _t(language, "新闻", "news")
    if kind == "metric":
        name = _metric(metrics, ident).name(language)
        return _t(language, f"指标:{name}", f"metric: {name}")
    if kind == "entity":
        name = _entity_name(entity_names, ident, language)
        return _t(language, f"主体:{name}", f"entity: {name}")
    return topic


def topics_for(fact: Fact) -> tuple[str, ...]:
    """Every topic whose subscribers want to hear about this figure."""
    return (ALL, f"metric:{fact.metric}", f"entity:{fact.entity}")


# ---- deciding ----------------------------------------------------------------------------------------------
def alert_key(result_changes: Sequence[Change]) -> str:
    """A digest of what changed, independent of order: the same change re-derived gives the same key."""
    rows = sorted(
        (
            after.metric,
            after.entity,
            str(after.period),
            repr(float(after.value)),
            after.qualifier,
            "new" if before is None else f"revised from {float(before.value)!r} {before.qualifier}",
        )
        for before, after in result_changes
    )
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def data_alerts(new: Sequence[Fact], revised: Sequence[tuple[Fact, Fact] | Revision]) -> list[DataAlert]:
    """One alert per (metric, entity) series the ingest touched, in a stable order."""
    changes: list[Change] = [(None, fact) for fact in new] + [_pair(r) for r in revised]
    groups: dict[tuple[str, str], list[Change]] = {}
    for change in sorted(changes, key=lambda c: (c[1].metric, c[1].entity, c[1].period)):
        groups.setdefault((change[1].metric, change[1].entity), []).append(change)
    return [_alert(group) for group in groups.values()]


def _pair(revision: tuple[Fact, Fact] | Revision) -> Change:
    return (revision.before, revision.after) if isinstance(revision, Revision) else (revision[0], revision[1])


def _alert(group: list[Change]) -> DataAlert:
    topics = tuple(dict.fromkeys(topic for _, fact in group for topic in topics_for(fact)))
    facts = tuple(fact for _, fact in group)
    return DataAlert(alert_key(group), topics, facts, tuple(before for before, _ in group))


# ---- wording -----------------------------------------------------------------------------------------------
@dataclass
class _Notes:
    """What a figure means, built up by the comparisons: sentences, and the arithmetic behind them."""

    lines: list[str] = field(default_factory=list)
    steps: list[Computation] = field(default_factory=list)


def alert_text(
    alert: DataAlert,
    facts: FactsTable,
    metrics: Mapping[str, MetricInfo],
    entity_names: Mapping[str, tuple[str, str]],
    lang: str,
) -> str:
    """The alert in the chat's language: each figure, what it means against `facts`, arithmetic and source."""
    language = _lang(lang)
    info = _metric(metrics, alert.facts[0].metric)
    entity = _entity_name(entity_names, alert.facts[0].entity, language)
    revised = [before is not None for before in alert.revised_from]
    if all(revised):
        what = _t(language, "数据修订", "Revised data")
    else:
        what = (
            _t(language, "新数据与修订", "New and revised data")
            if any(revised)
            else _t(language, "新数据", "New data")
        )
    blocks = [f"{what} · {info.name(language)} · {entity}"]
    for fact, before in zip(alert.facts, alert.revised_from, strict=True):
        blocks.append(_block(fact, before, facts, info.kind, language))
    return "\n\n".join(blocks)


def _block(fact: Fact, before: Fact | None, facts: FactsTable, kind: str, lang: Lang) -> str:
    notes = _Notes()
    label = fact.period.label(lang)
    if before is None:
        headline = _t(lang, f"{label}:{_value(fact, lang)}", f"{label}: {_value(fact, lang)}")
    else:
        headline = _t(lang, f"{label} ", f"{label} — ") + _revision(before, fact, lang, notes)
    _meaning(fact, facts, kind, lang, notes)
    lines = [headline, *notes.lines]
    if notes.steps:
        lines.append(_t(lang, "计算:", "Arithmetic:"))
        lines += [f"  {step.expression}" for step in notes.steps]
    lines.append(_source(fact, lang))
    return "\n".join(lines)


def _revision(before: Fact, after: Fact, lang: Lang, notes: _Notes) -> str:
    change = ""
    if before.value != after.value:
        old, new = Operand.of(before), Operand.of(after)
        step = difference(new, old, lang) if after.unit == "percent" else growth(new, old, lang)
        shown = format_points(step.result, lang) if step.unit == "points" else format_percent(step.result)
        change = _t(lang, f"({_signed(shown, step.result)})", f" ({_signed(shown, step.result)})")
        notes.steps.append(step)
    return _t(
        lang,
        f"修订:由 {_value(before, lang)} 改为 {_value(after, lang)}{change}",
        f"Revised: from {_value(before, lang)} to {_value(after, lang)}{change}",
    )


def _meaning(fact: Fact, facts: FactsTable, kind: str, lang: Lang, notes: _Notes) -> None:
    if not any(f.period != fact.period for f in facts.series(fact.metric, fact.entity)):
        notes.lines.append(
            _t(
                lang,
                "这是此类数字中的第一个,暂无可比较的数据。",
                "This is the first figure of its kind: there is nothing to compare it with yet.",
            )
        )
    elif kind == "total":
        _against_previous_period(fact, facts, lang, notes)
        _implied_half(fact, facts, lang, notes)
    elif kind == "share":
        _share_change(fact, facts, lang, notes)
        _share_rank(fact, facts, lang, notes)
    else:
        _against_earlier(fact, facts, lang, notes)


def _earlier(fact: Fact, facts: FactsTable) -> Fact | None:
    """The series' latest figure for a period that ended before this one began, whatever its length."""
    before = [f for f in facts.series(fact.metric, fact.entity) if f.period.end < fact.period.start]
    return max(before, key=lambda f: (f.period.end, f.period.start), default=None)


def _against_previous_period(fact: Fact, facts: FactsTable, lang: Lang, notes: _Notes) -> None:
    previous = fact.period.previous()
    old = facts.get(fact.metric, fact.entity, previous)
    if old is None:
        label = previous.label(lang)
        notes.lines.append(
            _t(
                lang,
                f"暂无上一同类期间({label})的数字可比。",
                f"There is no figure for the previous period of the same kind ({label}) to compare with.",
            )
        )
    else:
        _compare(fact, old, lang, notes)


def _against_earlier(fact: Fact, facts: FactsTable, lang: Lang, notes: _Notes) -> None:
    old = _earlier(fact, facts)
    if old is None:
        notes.lines.append(_t(lang, "暂无更早的数字可比。", "There is no earlier figure to compare with."))
    else:
        _compare(fact, old, lang, notes)


def _compare(fact: Fact, old: Fact, lang: Lang, notes: _Notes) -> None:
    """Multiple and growth against an earlier figure of the same series, lower bounds flagged."""
    new_op, old_op = Operand.of(fact), Operand.of(old)
    times, pct = ratio(new_op, old_op, lang), growth(new_op, old_op, lang)
    label, shown = old.period.label(lang), _value(old, lang)
    size = format_percent(abs(pct.result))
    change = (
        _t(lang, f"增长 {size}", f"up {size}") if pct.result >= 0 else _t(lang, f"下降 {size}", f"down {size}")
    )
    notes.lines.append(
        _t(
            lang,
            f"为 {label}({shown})的 {format_ratio(times.result)},{change}。",
            f"That is {format_ratio(times.result)} the {label} figure ({shown}), {change}.",
        )
    )
    notes.steps += [times, pct]
    _bound_note(fact, old, lang, notes, _t(lang, "倍数和增幅", "multiple and growth"))


def _bound_note(fact: Fact, old: Fact, lang: Lang, notes: _Notes, what: str) -> None:
    """Figures the source gave as "more than" make a comparison one-sided; say which way."""
    new_low, old_low = fact.qualifier == "at_least", old.qualifier == "at_least"
    if new_low and old_low:
        notes.lines.append(
            _t(
                lang,
                "注意:两个数字都是下限(原文为「超过」),上面的比较只是近似。",
                "Note: both figures are lower bounds (“more than”), so the comparison above is only approximate.",
            )
        )
    elif new_low or old_low:
        which = fact if new_low else old
        label, shown = which.period.label(lang), _value(which, lang)
        side = _t(lang, "下限" if new_low else "上限", "a lower" if new_low else "an upper")
        notes.lines.append(
            _t(
                lang,
                f"注意:{label}的数字({shown})是下限,所以上面的{what}是{side}。",
                f"Note: the {label} figure ({shown}) is a lower bound, so read the {what} above as {side} bound.",
            )
        )


def _implied_half(fact: Fact, facts: FactsTable, lang: Lang, notes: _Notes) -> None:
    """A full year and one half of it known: the other half is their difference."""
    whole, part, missing = _year_and_half(fact, facts)
    if whole is None or part is None or missing is None:
        return
    step = difference(Operand.of(whole), Operand.of(part), lang)
    if whole.qualifier == "at_least" and part.qualifier != "at_least":
        qualifier: Qualifier = "at_least"
    elif part.qualifier == "at_least" and whole.qualifier != "at_least":
        qualifier = "at_most"
    else:
        qualifier = "about"  # the sources round their totals, so a difference of two is approximate
    value, label = format_count(step.result, lang, qualifier), missing.label(lang)
    sums = f"{Operand.of(whole).show(lang)} − {Operand.of(part).show(lang)}"
    notes.lines.append(_t(lang, f"据此 {label}{value}({sums})。", f"So {label} was {value} ({sums})."))
    notes.steps.append(step)


def _year_and_half(fact: Fact, facts: FactsTable) -> tuple[Fact | None, Fact | None, Period | None]:
    """(the year, the known half, the unknown half) around `fact`, or Nones when that does not apply."""
    period = fact.period
    if period.kind == "year":
        halves = [Period.of_half(period.year, 1), Period.of_half(period.year, 2)]
        known = [(h, facts.get(fact.metric, fact.entity, h)) for h in halves]
        held = [(h, f) for h, f in known if f is not None]
        if len(held) != 1:
            return None, None, None
        missing = next(h for h, f in known if f is None)
        return fact, held[0][1], missing
    if period.kind == "half":
        other = Period.of_half(period.year, 3 - period.index)
        if facts.get(fact.metric, fact.entity, other) is None:
            return facts.get(fact.metric, fact.entity, Period.of_year(period.year)), fact, other
    return None, None, None


def _share_change(fact: Fact, facts: FactsTable, lang: Lang, notes: _Notes) -> None:
    old = _earlier(fact, facts)
    if old is None:
        notes.lines.append(_t(lang, "暂无更早的份额可比。", "There is no earlier share to compare with."))
        return
    step = difference(Operand.of(fact), Operand.of(old), lang)
    label, shown, points = old.period.label(lang), _value(old, lang), format_points(abs(step.result), lang)
    if step.result > 0:
        line = _t(lang, f"较 {label}的 {shown} 上升 {points}。", f"Up {points} from {shown} in {label}.")
    elif step.result < 0:
        line = _t(lang, f"较 {label}的 {shown} 下降 {points}。", f"Down {points} from {shown} in {label}.")
    else:
        line = _t(lang, f"与 {label}的 {shown} 持平。", f"Unchanged from {shown} in {label}.")
    notes.lines.append(line)
    notes.steps.append(step)
    _bound_note(fact, old, lang, notes, _t(lang, "变化", "change"))


def _share_rank(fact: Fact, facts: FactsTable, lang: Lang, notes: _Notes) -> None:
    peers = [f for f in facts.lookup(metric=fact.metric, period=fact.period) if f.entity != fact.entity]
    rank, count = 1 + sum(1 for f in peers if f.value > fact.value), len(peers) + 1
    label = fact.period.label(lang)
    if count == 1:
        line = _t(
            lang,
            f"目前它是 {label}唯一有份额数据的厂商(排第 1)。",
            f"It is so far the only vendor with a share for {label} (rank 1).",
        )
    else:
        line = _t(
            lang,
            f"在 {label}已有份额数据的 {count} 家厂商中排第 {rank}。",
            f"It ranks {rank} of the {count} vendors with a share for {label}.",
        )
    notes.lines.append(line)


# ---- small helpers -----------------------------------------------------------------------------------------
def _lang(lang: str) -> Lang:
    return "zh" if lang.lower().startswith("zh") else "en"


def _t(lang: Lang, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _metric(metrics: Mapping[str, MetricInfo], metric: str) -> MetricInfo:
    return metrics.get(metric) or metric_info({}, metric)


def _entity_name(entity_names: Mapping[str, tuple[str, str]], entity: str, lang: Lang) -> str:
    zh, en = entity_names.get(entity, (entity, entity))
    return _t(lang, zh, en)


def _qualifier(fact: Fact) -> Qualifier:
    return cast(Qualifier, fact.qualifier) if fact.qualifier in QUALIFIERS else "exact"


def _value(fact: Fact, lang: Lang) -> str:
    """A figure as cited, with its qualifier in words: "超过 50 万亿", "more than 50 trillion", "49.2%"."""
    if fact.unit == "percent":
        return format_percent(fact.value, _qualifier(fact), lang)
    return format_count(fact.value, lang, _qualifier(fact))


def _signed(shown: str, value: float) -> str:
    return f"+{shown}" if value > 0 else shown


def _source(fact: Fact, lang: Lang) -> str:
    published = _t(lang, f"({fact.published})", f" ({fact.published})") if fact.published else ""
    parts = [p for p in (fact.report + published, fact.source) if p]
    if not parts:
        return _t(lang, "来源:未注明", "Source: not given")
    return _t(lang, "来源:", "Source: ") + _t(lang, ";", "; ").join(parts)
