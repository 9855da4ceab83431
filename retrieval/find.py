"""Resolve what a question names (entities, measures, periods) to cited figures in the facts table.

Pure over an in-memory `FactsTable`. Substitutions (a relative year with no data, a figure announced in
the month asked about, a year-less month) are never silent: each one adds a note the answer shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from knowledge.catalog import MetricInfo, metric_info
from knowledge.facts import Fact, FactsTable, Period
from knowledge.loaders import Entity
from retrieval import compute
from retrieval.compute import Operand
from retrieval.understand import PeriodMention, Query, contains_any, normalize
from retrieval.vocabulary import NATIONAL_WORDS

Lang = Literal["zh", "en"]
Conversion = Literal["", "per_month", "per_day", "to_month", "derived_volume"]


@dataclass(frozen=True)
class Subject:
    """One figure the question asks about, before it is looked up."""

    entity: str
    metric: str
    mention: PeriodMention | None
    conversion: Conversion = ""


@dataclass
class Resolution:
    """Operands found for the question's subjects, notes on any substitution, and what is missing."""

    operands: list[Operand] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class Resolver:
    """Looks subjects up in the facts table, applying the documented fallbacks."""

    def __init__(self, facts: FactsTable, metrics: dict[str, MetricInfo], entities: Sequence[Entity]) -> None:
        self.facts = facts
        self.metrics = metrics
        self.entities = {e.id: e for e in entities}
        self._metrics_of: dict[str, set[str]] = {}
        for fact in facts:
            self._metrics_of.setdefault(fact.entity, set()).add(fact.metric)

    # --- names ------------------------------------------------------------------------------------------

    def entity_name(self, entity: str, lang: Lang) -> str:
        found = self.entities.get(entity)
        if found is None:
            return entity
        return found.name_zh if lang == "zh" else found.name_en

    def metric_name(self, metric: str, lang: Lang) -> str:
        return metric_info(self.metrics, metric).name(lang)

    def kind(self, metric: str) -> str:
        return metric_info(self.metrics, metric).kind

    def metrics_of(self, entity: str) -> set[str]:
        return self._metrics_of.get(entity, set())

    def metric_of_kind(self, entity: str, kind: str) -> str | None:
        for metric in sorted(self.metrics_of(entity)):
            if self.kind(metric) == kind:
                return metric
        return None

    def share_entities(self) -> list[str]:
        return list(self._share_entities)

    def market_entity(self) -> str | None:
        """The entity whose total the shares divide (IDC's market)."""
        return self._market_entity

    # --- subjects ---------------------------------------------------------------------------------------

    def national_entity(self) -> str | None:
        """The entity of the national count (named 全国/我国/国家数据局 among its aliases)."""
        return self._national_entity

    # Worked out once: every question asks, and the facts and entities of a resolver never change.
    @cached_property
    def _share_entities(self) -> tuple[str, ...]:
        return tuple(e for e in self.entities if self.metric_of_kind(e, "share"))

    @cached_property
    def _market_entity(self) -> str | None:
        for entity in self.entities:
            if self.metric_of_kind(entity, "total") and not self.metric_of_kind(entity, "share"):
                return entity
        return None

    @cached_property
    def _national_entity(self) -> str | None:
        for entity_id, entity in self.entities.items():
            if self.metric_of_kind(entity_id, "daily") and contains_any(
                normalize(" ".join(entity.aliases)), NATIONAL_WORDS
            ):
                return entity_id
        return None

    def scope_entities(self) -> set[str]:
        """Entities that stand for a whole market or country rather than one company."""
        return {e for e in (self.market_entity(), self.national_entity()) if e}

    def default_entities(self, query: Query) -> list[str]:
        """Who a question means when it names nobody: the national count or the IDC market."""
        national = self.national_entity()
        market = self.market_entity()
        if query.has("share"):
            return self.share_entities()
        wants_daily = query.has("daily") and not query.has("market")
        if national and (query.has("national") or (wants_daily and query.china_mentioned)):
            return [national]
        return [market] if market else []

    def subject_entities(self, query: Query) -> list[str]:
        named = list(query.entities)
        market = self.market_entity()
        vendors = [e for e in named if self.metric_of_kind(e, "share") or e != market]
        if market in named and len(vendors) < len(named) and any(self.metric_of_kind(e, "share") for e in named):
            # "火山引擎在中国公有云市场的份额": the market only scopes the question.
            named = [e for e in named if e != market]
        return named or self.default_entities(query)

    def pair(
        self, entities: list[str], mentions: Sequence[PeriodMention]
    ) -> list[tuple[str, PeriodMention | None]]:
        """Match entities to periods: one each in order, or one shared by all."""
        if not mentions:
            return [(e, None) for e in entities]
        if len(entities) == 1:
            return [(entities[0], m) for m in mentions]
        if len(mentions) == 1:
            return [(e, mentions[0]) for e in entities]
        if len(entities) == len(mentions):
            return list(zip(entities, mentions, strict=True))
        return [(entities[0], m) for m in mentions]

    def choose_metric(self, entity: str, query: Query) -> tuple[str, Conversion] | None:
        """The entity's metric that fits the question's measure words, and any conversion it needs."""
        have = {self.kind(m): m for m in self.metrics_of(entity)}
        daily, monthly = query.has("daily"), query.has("monthly")
        if query.has("share") and "share" in have:
            return have["share"], ""
        if daily and monthly and "daily" in have and "monthly" not in have:
            return have["daily"], "to_month"
        if daily and monthly and "monthly" in have and "daily" not in have:
            return have["monthly"], "per_day"
        if daily:
            if "daily" in have:
                return have["daily"], ""
            for kind in ("total", "monthly"):
                if kind in have:
                    return have[kind], "per_day"
        if monthly:
            if "monthly" in have:
                return have["monthly"], ""
            if "daily" in have:
                return have["daily"], "to_month"
            if "total" in have:
                return have["total"], "per_month"
        for kind in ("total", "monthly", "daily"):
            if kind in have:
                return have[kind], ""
        if "share" in have:
            asks_volume = query.has("volume") and not query.has("share")
            return have["share"], "derived_volume" if asks_volume else ""
        return None

    def subjects(self, query: Query) -> tuple[list[Subject], list[str]]:
        """The subjects of a question, and the names of entities that have no usable metric."""
        result: list[Subject] = []
        unusable: list[str] = []
        for entity, mention in self.pair(self.subject_entities(query), query.periods):
            chosen = self.choose_metric(entity, query)
            if chosen is None:
                unusable.append(entity)
                continue
            result.append(Subject(entity, chosen[0], mention, chosen[1]))
        return result, unusable

    def common_period(self, subjects: list[Subject]) -> list[Subject]:
        """Several figures with no period named: compare them at the latest period they all have."""
        if len(subjects) < 2 or any(s.mention is not None for s in subjects):
            return subjects
        shared = set.intersection(*(set(self.facts.periods(s.metric, s.entity)) for s in subjects))
        if not shared:
            return subjects
        latest = max(shared)
        mention = PeriodMention(latest.kind, latest.year, latest.index, str(latest), -1)
        return [Subject(s.entity, s.metric, mention, s.conversion) for s in subjects]

    def settle_years(self, subjects: list[Subject], lang: Lang) -> tuple[list[Subject], list[str]]:
        """Give every year-less mention one shared year: the latest in which all of them have data."""
        open_ = [s for s in subjects if s.mention is not None and s.mention.year is None]
        if not open_:
            return subjects, []
        years = sorted({p.year for s in open_ for p in self._years_of(s)}, reverse=True)
        year = next((y for y in years if all(self._has(s, y) for s in open_)), years[0] if years else 0)
        settled = [self._with_year(s, year) if s in open_ else s for s in subjects]
        texts = "、".join(dict.fromkeys(s.mention.text for s in open_ if s.mention))
        return settled, ([self._year_note(texts, year, lang)] if year else [])

    def _years_of(self, subject: Subject) -> list[Period]:
        series = self.facts.series(subject.metric, subject.entity)
        published = [f.published_period() for f in series]
        return [f.period for f in series] + [p for p in published if p is not None]

    def _has(self, subject: Subject, year: int) -> bool:
        assert subject.mention is not None
        period = subject.mention.period(year)
        return bool(
            self.facts.get(subject.metric, subject.entity, period)
            or self._announced_in(subject.metric, subject.entity, period)
        )

    @staticmethod
    def _with_year(subject: Subject, year: int) -> Subject:
        m = subject.mention
        assert m is not None
        return Subject(
            subject.entity,
            subject.metric,
            PeriodMention(m.kind, year, m.index, m.text, m.start),
            subject.conversion,
        )

    # --- periods ----------------------------------------------------------------------------------------

    def resolve(self, subject: Subject, lang: Lang) -> Resolution:
        """Look one subject up, applying conversions; fills `missing` when the data has nothing."""
        res = Resolution()
        metric = subject.metric
        if subject.conversion == "derived_volume":
            return self._derived_volume(subject, lang)
        fact = self.find_fact(metric, subject.entity, subject.mention, lang, res)
        if fact is None:
            return res
        operand = Operand.of(fact)
        if subject.conversion == "per_month":
            operand = compute.per_month(operand, lang)
        elif subject.conversion == "per_day":
            operand = compute.per_day(operand, lang)
        elif subject.conversion == "to_month":
            operand = compute.daily_to_month(operand, lang)
        res.operands.append(operand)
        return res

    def _derived_volume(self, subject: Subject, lang: Lang) -> Resolution:
        res = Resolution()
        share = self.find_fact(subject.metric, subject.entity, subject.mention, lang, res)
        market = self.market_entity()
        total_metric = self.metric_of_kind(market, "total") if market else None
        if share is None or market is None or total_metric is None:
            return res
        whole = self.facts.get(total_metric, market, share.period)
        if whole is None:
            res.missing.append(self._missing_text(total_metric, market, share.period, lang))
            return res
        res.operands.append(compute.share_of(Operand.of(share), Operand.of(whole), lang))
        note = {
            "zh": "IDC 只公布份额,该厂商的调用量由份额 × 市场总量推算。",
            "en": "IDC publishes shares only; the vendor's volume is derived as share × market total.",
        }
        res.notes.append(note[lang])
        return res

    def find_fact(
        self, metric: str, entity: str, mention: PeriodMention | None, lang: Lang, res: Resolution
    ) -> Fact | None:
        if mention is None:
            latest = self.facts.latest(metric, entity)
            return self.facts.get(metric, entity, latest) if latest else None
        period = mention.period()
        fact = self.facts.get(metric, entity, period)
        if fact is not None:
            if mention.relative:
                res.notes.append(self._relative_note(mention, period, lang))
            return fact
        return self._fallback(metric, entity, mention, period, lang, res)

    def _announced_in(self, metric: str, entity: str, period: Period) -> list[Fact]:
        if period.kind != "month":
            return []
        return [f for f in self.facts.published_in(metric, entity, period) if not period.contains(f.period)]

    def _fallback(
        self, metric: str, entity: str, mention: PeriodMention, period: Period, lang: Lang, res: Resolution
    ) -> Fact | None:
        announced = self._announced_in(metric, entity, period)
        if announced:
            fact = max(announced, key=lambda f: f.period)
            res.notes.append(self._announced_note(fact, period, lang))
            return fact
        series = self.facts.series(metric, entity)
        if mention.relative and series:
            same_kind = [f for f in series if f.period.kind == period.kind] or series
            fact = min(same_kind, key=lambda f: (abs((f.period.start - period.start).days), -f.period.year))
            res.notes.append(self._relative_note(mention, period, lang, substitute=fact.period))
            return fact
        inside = [f for f in series if period.contains(f.period)]
        if inside and self.kind(metric) == "daily":
            fact = inside[-1]
            res.notes.append(self._inside_note(period, fact.period, lang))
            return fact
        around = [f for f in series if f.period.contains(period) and self.kind(metric) == "share"]
        if around:
            res.notes.append(self._inside_note(period, around[0].period, lang))
            return around[0]
        res.missing.append(self._missing_text(metric, entity, period, lang))
        return None

    # --- notes ------------------------------------------------------------------------------------------

    def _missing_text(self, metric: str, entity: str, period: Period, lang: Lang) -> str:
        have = ", ".join(p.label(lang) for p in self.facts.periods(metric, entity)) or "—"
        name, what = self.entity_name(entity, lang), self.metric_name(metric, lang)
        if lang == "zh":
            return f"数据中没有{name}{period.label('zh')}的{what};现有期间:{have}。"
        return f"The data has no {what} for {name} in {period.label('en')}; periods it has: {have}."

    def _relative_note(
        self, mention: PeriodMention, period: Period, lang: Lang, substitute: Period | None = None
    ) -> str:
        if lang == "zh":
            text = f"「{mention.relative}」按今天的日期理解为 {period.label('zh')}"
            if substitute is not None:
                text += f";数据中还没有该期的数字,改用最接近的 {substitute.label('zh')}"
            return text + "。"
        text = f"“{mention.relative}” is taken as {period.label('en')} (from today's date)"
        if substitute is not None:
            text += (
                f"; the data has no figure for it yet, so the nearest period, {substitute.label('en')}, is used"
            )
        return text + "."

    @staticmethod
    def _year_note(text: str, year: int, lang: Lang) -> str:
        if lang == "zh":
            return f"「{text}」未写年份,按数据中最近的 {year} 年理解。"
        return f"“{text}” has no year; taken as {year}, the latest year the data covers."

    @staticmethod
    def _announced_note(fact: Fact, asked: Period, lang: Lang) -> str:
        if lang == "zh":
            return (
                f"{asked.label('zh')}没有单独的数字:{fact.published} 公布的是 {fact.period.label('zh')} 的数字"
                f"({fact.report}),按它回答。"
            )
        return (
            f"There is no figure for {asked.label('en')} itself: the figure announced on {fact.published} "
            f"({fact.report}) is for {fact.period.label('en')}, and is used here."
        )

    @staticmethod
    def _inside_note(asked: Period, used: Period, lang: Lang) -> str:
        if lang == "zh":
            return f"{asked.label('zh')}没有完全对应的数字,使用 {used.label('zh')} 的数字。"
        return f"There is no figure for exactly {asked.label('en')}; the {used.label('en')} figure is used."
