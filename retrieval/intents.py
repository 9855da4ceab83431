"""One function per kind of question: find the operands, compute, and draft the headline.

Each returns a `Draft`; `compose.py` turns drafts into text. A draft never holds a number that is not a
cited figure or the result of a recorded computation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Literal

from knowledge.facts import Period
from knowledge.loaders import Passage
from knowledge.units import Quantity, format_count, format_percent, format_ratio
from retrieval import compute
from retrieval.compute import Computation, Operand
from retrieval.find import Resolution, Resolver, Subject
from retrieval.understand import PeriodMention, Query

Lang = Literal["zh", "en"]
Status = Literal["answered", "not_found"]


# Finds the period a claim refers to in the sources when the question names none ("文章说…").
ClaimContext = Callable[[Query, Quantity], "PeriodMention | None"]


def t(lang: Lang, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


@dataclass
class Draft:
    """What an answer will say, before it is written out."""

    status: Status
    headline: str
    operands: list[Operand] = field(default_factory=list)
    computations: list[Computation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    passages: list[tuple[Passage, str]] = field(default_factory=list)


class Drafter:
    """Drafts answers for each intent over one resolver (and so one facts table)."""

    def __init__(self, resolver: Resolver, claim_context: ClaimContext | None = None) -> None:
        self.r = resolver
        self.claim_context = claim_context
        self._coverage: dict[Lang, str] = {}

    def draft(self, query: Query) -> Draft | None:
        """A draft for a question about figures, or None when it is not one (try passages then)."""
        if (
            query.intent in ("value", "latest")
            and query.has("ranking")
            and set(query.entities) <= {self.r.market_entity()}
        ):
            query = replace(query, intent="ranking")
        handler: Callable[[Query], Draft | None] = {
            "value": self.value,
            "latest": self.value,
            "ratio": self.ratio,
            "difference": self.difference,
            "growth": self.growth,
            "sum": self.sum,
            "rest": self.rest,
            "average": self.value,
            "projection": self.projection,
            "ranking": self.ranking,
            "series": self.series,
            "convert": self.convert,
            "claim": self.claim,
        }.get(query.intent, self.value)
        return handler(query)

    # --- helpers ----------------------------------------------------------------------------------------

    def label(self, op: Operand, lang: Lang) -> str:
        name = self.r.entity_name(op.entity, lang)
        if lang == "zh":
            return f"{name} {op.period.label('zh')}"
        return f"{name}, {op.period.label('en')}"

    def pair_labels(self, a: Operand, b: Operand, lang: Lang) -> tuple[str, str]:
        """Labels for two operands with their values; the second drops the entity when it repeats."""
        first = (
            f"{self.label(a, lang)}({self.shown(a, lang)})"
            if lang == "zh"
            else f"{self.label(a, lang)} ({self.shown(a, lang)})"
        )
        second_name = b.period.label(lang) if a.entity == b.entity else self.label(b, lang)
        second = (
            f"{second_name}({self.shown(b, lang)})" if lang == "zh" else f"{second_name} ({self.shown(b, lang)})"
        )
        return first, second

    def shown(self, op: Operand, lang: Lang) -> str:
        if op.unit == "percent":
            return format_percent(op.value, op.qualifier)  # type: ignore[arg-type]
        return format_count(op.value, lang, op.qualifier)  # type: ignore[arg-type]

    def gather(self, query: Query) -> tuple[Resolution, list[Subject]]:
        """Resolve every subject of the question; notes and missing parts are collected in order."""
        subjects, _ = self.r.subjects(query)
        subjects, notes = self.r.settle_years(self.r.common_period(subjects), query.lang)
        total = Resolution(notes=notes)
        for subject in subjects:
            one = self.r.resolve(subject, query.lang)
            total.operands += one.operands
            total.notes += [n for n in one.notes if n not in total.notes]
            total.missing += one.missing
        return total, subjects

    def not_found(self, query: Query, res: Resolution | None = None) -> Draft:
        lang = query.lang
        lines = list(res.missing) if res else []
        headline = t(lang, "数据中没有这个问题的答案。", "That is not in the data.")
        return Draft("not_found", headline, lines=[*lines, self.coverage(lang)])

    def coverage(self, lang: Lang) -> str:
        """What the data does cover, by metric: named entities and period range (no figures)."""
        if lang not in self._coverage:  # it reads every fact: once per language, as the facts never change
            self._coverage[lang] = self._describe_coverage(lang)
        return self._coverage[lang]

    def _describe_coverage(self, lang: Lang) -> str:
        parts = []
        for metric in self.r.facts.metrics():
            entities = self.r.facts.entities(metric)
            periods = self.r.facts.periods(metric)
            names = (
                "、".join(self.r.entity_name(e, lang) for e in entities)
                if lang == "zh"
                else ", ".join(self.r.entity_name(e, lang) for e in entities)
            )
            span = f"{periods[0].label(lang)}–{periods[-1].label(lang)}" if periods else ""
            parts.append(
                f"{self.r.metric_name(metric, lang)}({names};{span})"
                if lang == "zh"
                else f"{self.r.metric_name(metric, lang)} ({names}; {span})"
            )
        return t(lang, "我有的数据:", "What I have: ") + ("; ".join(parts))

    def _answered(
        self, headline: str, res: Resolution, *comps: Computation, lines: list[str] | None = None
    ) -> Draft:
        steps = [s for op in res.operands for s in op.steps]
        return Draft("answered", headline, list(res.operands), steps + list(comps), list(res.notes), lines or [])

    # --- intents ----------------------------------------------------------------------------------------

    def value(self, query: Query) -> Draft | None:
        res, subjects = self.gather(query)
        if not subjects:
            return None
        if not res.operands:
            return self.not_found(query, res)
        lang = query.lang
        if len(res.operands) == 1:
            op = res.operands[0]
            what = self.describe(op, subjects[0], lang)
            headline = t(
                lang,
                f"{self.label(op, lang)}的{what}{'约' if op.steps else ''}为 {self.shown(op, lang)}。",
                f"{what[:1].upper() + what[1:]} for {self.label(op, lang)}: "
                f"{'about ' if op.steps else ''}{self.shown(op, lang)}.",
            )
            if subjects[0].mention is None and self.r.kind(op.metric) != "total":
                res.notes.append(
                    t(
                        lang,
                        f"问题没有指定期间,给出最新的 {op.period.label(lang)}。",
                        f"No period given: this is the latest, {op.period.label(lang)}.",
                    )
                )
                others = [f for f in self.r.facts.series(op.metric, op.entity) if f.period != op.period]
                res.operands += [Operand.of(f) for f in others[-2:]]
            return self._answered(headline, res)
        lines = [f"{self.label(op, lang)}: {self.shown(op, lang)}" for op in res.operands]
        return self._answered(t(lang, "查到以下数字:", "Here are the figures:"), res, lines=lines)

    def describe(self, op: Operand, subject: Subject, lang: Lang) -> str:
        conversion = {
            "per_month": t(lang, "月均调用量(按期间总量平均)", "monthly average (period total spread evenly)"),
            "per_day": t(lang, "日均调用量(按天平均)", "daily average"),
            "to_month": t(lang, "月调用量(按日均 × 30 天估算)", "monthly volume (daily average × 30 days)"),
            "derived_volume": t(lang, "Tokens 调用量(按份额推算)", "token volume (derived from its share)"),
        }
        return conversion.get(subject.conversion) or self.r.metric_name(subject.metric, lang)

    def _two(self, query: Query) -> tuple[Resolution, Operand, Operand] | Draft | None:
        res, subjects = self.gather(query)
        if not subjects:
            return None
        if res.missing or len(res.operands) < 2:
            if len(res.operands) == 1 and not res.missing and len(subjects) == 1:
                series = self.r.facts.series(subjects[0].metric, subjects[0].entity)
                if len(series) >= 2 and not query.periods:
                    return res, Operand.of(series[-1]), Operand.of(series[0])
            return self.not_found(query, res) if res.missing or not res.operands else None
        return res, res.operands[0], res.operands[1]

    def ratio(self, query: Query) -> Draft | None:
        got = self._two(query)
        if not isinstance(got, tuple):
            return got
        res, a, b = got
        lang = query.lang
        comp = compute.ratio(a, b, lang)
        self.flag(res, (a, b), lang)
        first, second = self.pair_labels(a, b, lang)
        headline = t(
            lang, f"{first}是{second}的 {comp.result:.2f} 倍。", f"{first} is {comp.result:.2f} times {second}."
        )
        return self._answered(headline, res, comp)

    def difference(self, query: Query) -> Draft | None:
        got = self._two(query)
        if not isinstance(got, tuple):
            return got
        res, a, b = got
        new, old = (a, b) if a.period >= b.period else (b, a)
        if new.period == old.period and a.value < b.value:
            new, old = b, a
        lang = query.lang
        diff = compute.difference(new, old, lang)
        comps = [diff]
        if new.unit == "tokens":
            comps.append(compute.growth(new, old, lang))
        self.flag(res, (new, old), lang)
        shown = comps[0].expression.split("= ")[-1]
        extra = (
            t(lang, f",增长 {format_percent(comps[1].result)}", f", up {format_percent(comps[1].result)}")
            if len(comps) > 1
            else ""
        )
        first, second = self.pair_labels(new, old, lang)
        headline = t(
            lang, f"{first}比{second}多 {shown}{extra}。", f"{first} is {shown} more than {second}{extra}."
        )
        return self._answered(headline, res, *comps)

    def growth(self, query: Query) -> Draft | None:
        got = self._two(query)
        if not isinstance(got, tuple):
            return got
        res, a, b = got
        new, old = (a, b) if a.period >= b.period else (b, a)
        lang = query.lang
        if new.unit == "percent":
            return self.difference(query)
        pct, times, diff = (
            compute.growth(new, old, lang),
            compute.ratio(new, old, lang),
            compute.difference(new, old, lang),
        )
        self.flag(res, (new, old), lang)
        first, second = self.pair_labels(old, new, lang)
        headline = t(
            lang,
            f"从{first}到{second},增长了 {format_percent(pct.result)}"
            f"(是原来的 {format_ratio(times.result)},增加 {format_count(diff.result, lang)})。",
            f"From {first} to {second} it grew {format_percent(pct.result)} "
            f"({format_ratio(times.result)} the earlier figure, "
            f"+{format_count(diff.result, lang)}).",
        )
        return self._answered(headline, res, pct, times, diff)

    def sum(self, query: Query) -> Draft | None:
        res, subjects = self.gather(query)
        if not subjects:
            return None
        if res.missing or not res.operands:
            return self.not_found(query, res)
        lang = query.lang
        comp = compute.total(res.operands, lang)
        names = t(lang, "、", ", ").join(self.r.entity_name(op.entity, lang) for op in res.operands)
        value = compute.show_value(comp.result, comp.unit, lang)
        headline = t(
            lang,
            f"{names}{res.operands[0].period.label(lang)}合计 {value}。",
            f"{names} combined, {res.operands[0].period.label(lang)}: {value}.",
        )
        return self._answered(headline, res, comp)

    def rest(self, query: Query) -> Draft | None:
        res, subjects = self.gather(query)
        if not subjects:
            return None
        if res.missing or not res.operands:
            return self.not_found(query, res)
        lang = query.lang
        shares = [op for op in res.operands if op.unit == "percent"]
        if not shares:
            return None
        comp = compute.remainder(shares, lang)
        names = t(lang, "、", ", ").join(self.r.entity_name(op.entity, lang) for op in shares)
        period = shares[0].period.label(lang)
        headline = t(
            lang,
            f"{period},{names}以外的厂商合计占 {format_percent(comp.result)}。",
            f"In {period}, vendors other than {names} held {format_percent(comp.result)} combined.",
        )
        return self._answered(headline, res, comp)

    def ranking(self, query: Query) -> Draft | None:
        lang = query.lang
        metric = next((m for m in self.r.facts.metrics() if self.r.kind(m) == "share"), None)
        if metric is None:
            return None
        mention = query.periods[0] if query.periods else None
        period: Period | None = mention.period() if mention and mention.year else self.r.facts.latest(metric)
        facts = sorted(self.r.facts.lookup(metric=metric, period=period), key=lambda f: -f.value) if period else []
        if not facts:
            return self.not_found(query)
        rank = min(query.rank or 1, len(facts))
        top = facts[rank - 1]
        ops = [Operand.of(f) for f in facts]
        lines = [
            f"{i}. {self.r.entity_name(f.entity, lang)}: {format_percent(f.value)}" for i, f in enumerate(facts, 1)
        ]
        assert period is not None
        headline = t(
            lang,
            f"{period.label('zh')},按 IDC 口径排名第 {rank} 的是{self.r.entity_name(top.entity, lang)},"
            f"份额 {format_percent(top.value)}。",
            f"In {period.label('en')}, number {rank} by IDC's measure is "
            f"{self.r.entity_name(top.entity, lang)} with {format_percent(top.value)}.",
        )
        res = Resolution(ops)
        res.notes.append(
            t(
                lang,
                f"IDC 只公布了前 {len(facts)} 家的份额。",
                f"IDC's published figures name the top {len(facts)} vendors only.",
            )
        )
        return self._answered(headline, res, lines=lines)

    def series(self, query: Query) -> Draft | None:
        res, subjects = self.gather(query)
        if not subjects:
            return None
        lang = query.lang
        subject = subjects[0]
        facts = self.r.facts.series(subject.metric, subject.entity)
        if not facts:
            return self.not_found(query, res)
        ops = [Operand.of(f) for f in facts]
        comps = [compute.ratio(b, a, lang) for a, b in pairwise(ops)]
        lines = [f"{op.period.label(lang)}: {self.shown(op, lang)}" for op in ops]
        name = self.r.entity_name(subject.entity, lang)
        metric = self.r.metric_name(subject.metric, lang)
        headline = t(
            lang,
            f"{name}{metric}的变化({len(ops)} 个数据点):",
            f"{name}'s {metric} over time ({len(ops)} data points):",
        )
        out = Resolution(ops, res.notes)
        self.flag(out, tuple(ops), lang)
        return self._answered(headline, out, *comps, lines=lines)

    def projection(self, query: Query) -> Draft | None:
        res, subjects = self.gather(query)
        if not subjects:
            return None
        lang = query.lang
        halves = [op for op in res.operands if op.period.kind == "half" and op.unit == "tokens"]
        if not halves:
            subject = subjects[0]
            series = [f for f in self.r.facts.series(subject.metric, subject.entity) if f.period.kind == "half"]
            if not series:
                return self.not_found(query, res)
            halves = [Operand.of(series[-1])]
            res.operands = halves
        half = halves[-1]
        comp = compute.flat_full_year(half, lang)
        year = half.period.year
        headline = t(
            lang,
            f"如果 {year} 年下半年与上半年持平,{year} 全年约为 {format_count(comp.result, lang)}。",
            f"If H2 {year} matches H1, the full year {year} comes to about {format_count(comp.result, lang)}.",
        )
        comps = [comp]
        previous = self.r.facts.get(half.metric, half.entity, Period.of_year(year - 1))
        if previous is not None:
            prev = Operand.of(previous)
            res.operands.append(prev)
            full = Operand(
                half.metric, half.entity, Period.of_year(year), comp.result, "tokens", half.qualifier, half.facts
            )
            comps.append(compute.ratio(full, prev, lang))
        res.notes.append(
            t(
                lang,
                "这是简单推算,不是数据;实际全年以 IDC 公布为准。",
                "This is a simple projection, not data; IDC's full-year figure will tell.",
            )
        )
        return self._answered(headline, res, *comps)

    def convert(self, query: Query) -> Draft | None:
        counts = [q for q in query.quantities if q.kind == "count"]
        lang = query.lang
        if query.unreadable:
            return Draft("not_found", query.unreadable)
        if not counts:
            headline = t(
                lang,
                "没能读出要换算的数字。请写成 536.7 万亿、1.3 quadrillion、1.5e15 这样的形式。",
                "I could not read the number to convert. Write it like 536.7 trillion, 536.7 万亿 or 1.5e15.",
            )
            return Draft("not_found", headline)
        q = counts[0]
        zh, en = format_count(q.value, "zh", q.qualifier), format_count(q.value, "en", q.qualifier)
        scientific = f"{q.value:.4g}".replace("e+", "e")
        headline = t(
            lang,
            f"{q.text} = {en}(英文写法)= {zh} = {scientific}。",
            f"{q.text} = {zh} (Chinese units) = {en} = {scientific}.",
        )
        comp = Computation(f"{q.text} = {scientific}", q.value, "tokens")
        return Draft("answered", headline, computations=[comp])

    def claim(self, query: Query) -> Draft | None:
        claimed = next((q for q in query.quantities if q.kind in ("count", "percent")), None)
        if claimed is None:
            return None
        if not query.periods and self.claim_context is not None:
            mention = self.claim_context(query, claimed)
            if mention is not None:
                query = replace(query, periods=(mention,))
        res, subjects = self.gather(query)
        if not subjects or not res.operands:
            return self.not_found(query, res) if subjects else None
        return self._verdict(claimed, res.operands[0], res, query.lang)

    def _verdict(self, claimed: Quantity, op: Operand, res: Resolution, lang: Lang) -> Draft:
        said = Operand(op.metric, op.entity, op.period, claimed.value, op.unit, claimed.qualifier, ())
        big, small = (op, said) if op.value >= claimed.value else (said, op)
        comp = compute.ratio(big, small, lang)
        claim_text = claimed.text or format_count(claimed.value, lang)
        data_text = self.shown(op, lang)
        lower_bound_kept = claimed.qualifier == "at_least" and claimed.value <= op.value * 1.05
        close = comp.result <= 1.05 or (lower_bound_kept and comp.result <= 1.5)
        if lower_bound_kept and not close:
            res.notes.append(
                t(
                    lang,
                    f"字面上 {data_text} 确实「超过」{claim_text},但两者差了 {format_ratio(comp.result)},说法严重低估。",
                    f"Literally {data_text} is “more than” {claim_text}, but they differ by "
                    f"{format_ratio(comp.result)}: the claim badly understates it.",
                )
            )
        if close:
            verdict = t(
                lang,
                f"基本正确:数据显示 {data_text},与「{claim_text}」相符。",
                f"Supported: the data shows {data_text}, consistent with “{claim_text}”.",
            )
        else:
            power = round(math.log10(comp.result))
            off = (
                t(
                    lang,
                    f",相差约 10^{power} 倍,像是单位写错了",
                    f", off by about 10^{power}, which looks like a unit slip",
                )
                if power >= 2
                else ""
            )
            verdict = t(
                lang,
                f"不对:数据显示 {data_text},而说法是「{claim_text}」{off}。",
                f"Not supported: the data shows {data_text}, while the claim says “{claim_text}”{off}.",
            )
        return self._answered(verdict, res, comp)

    def flag(self, res: Resolution, ops: tuple[Operand, ...], lang: Lang) -> None:
        """Caveats a comparison needs: lower bounds, and figures from different measures."""
        if any(op.is_lower_bound for op in ops):
            res.notes.append(
                t(
                    lang,
                    "标「超过」的数字是下限,据此算出的结果只是近似。",
                    "Figures marked “more than” are lower bounds, so results from them are approximate.",
                )
            )
        metrics = list(dict.fromkeys(op.metric for op in ops))
        if len(metrics) > 1:
            measures = [self.r.metrics.get(m) for m in metrics]
            detail = t(lang, ";", "; ").join(m.measure(lang) for m in measures if m)
            res.notes.append(t(lang, f"这是跨口径比较:{detail}。", f"This compares different measures: {detail}."))
        halves = {op.period.kind for op in ops}
        if "half" in halves and "year" in halves:
            res.notes.append(t(lang, "这是半年与全年相比。", "Note: this compares a half year with a full year."))
