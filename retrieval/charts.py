"""What a chart shows: topics built from the facts table, and ad-hoc charts of the figures an answer cited.

Pure data (no matplotlib): `bot.charts` draws a `ChartSpec`; newly ingested figures appear automatically.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from knowledge.errors import UserError
from knowledge.facts import Fact, FactsTable

Lang = Literal["zh", "en"]
Unit = Literal["tokens", "percent"]
Kind = Literal["line", "bar"]

LOG_SCALE_RATIO = 50  # above this max/min spread, a linear axis squashes the early points flat


@dataclass(frozen=True)
class Point:
    label: str
    value: float
    qualifier: str


@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class ChartSpec:
    topic: str
    title: str
    series: tuple[Series, ...]
    unit: Unit
    log_scale: bool
    kind: Kind
    source: str
    y_label: str

    @property
    def labels(self) -> tuple[str, ...]:
        """Every x label of every series, in order: a grouped chart's categories."""
        merged: list[str] = []
        for series in self.series:
            after = -1
            for point in series.points:
                if point.label in merged:
                    after = merged.index(point.label)
                else:
                    after += 1
                    merged.insert(after, point.label)
        return tuple(merged)


@dataclass(frozen=True)
class _Topic:
    metric: str
    entity: str | None  # None: one series per entity that has the metric
    kind: Kind
    y_zh: str
    y_en: str


# The data behind each topic; titles are in TOPICS. Order here is the order users see.
_TOPICS: dict[str, tuple[str, str, _Topic]] = {
    "idc_totals": (
        "中国大模型公有云 Tokens 调用量(IDC)",
        "China LLM public-cloud (MaaS) tokens (IDC)",
        _Topic("maas_tokens", "china_public_cloud", "bar", "Tokens", "tokens"),
    ),
    "shares": (
        "大模型公有云市场份额(IDC)",
        "LLM public-cloud (MaaS) market share (IDC)",
        _Topic("maas_share", None, "bar", "份额", "share"),
    ),
    "google": (
        "谷歌每月 Tokens 处理量",
        "Google monthly tokens",
        _Topic("monthly_tokens", "google", "line", "每月 Tokens", "tokens per month"),
    ),
    "doubao": (
        "豆包大模型日均 Tokens 调用量",
        "Doubao average daily tokens",
        _Topic("daily_tokens", "doubao", "line", "日均 Tokens", "tokens per day"),
    ),
    "national": (
        "全国日均 Tokens 调用量(国家数据局)",
        "China nationwide average daily tokens (National Data Administration)",
        _Topic("daily_tokens", "china", "line", "日均 Tokens", "tokens per day"),
    ),
}
TOPICS: Mapping[str, tuple[str, str]] = MappingProxyType({k: (zh, en) for k, (zh, en, _) in _TOPICS.items()})

# Checked in order, so "IDC 份额" is shares and "Google total" is google. Lower-case substrings.
_TOPIC_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("shares", ("份额", "占比", "市场格局", "share", "火山", "阿里", "百度", "volcano", "alibaba", "baidu")),
    ("google", ("google", "谷歌", "alphabet", "gemini")),
    ("doubao", ("豆包", "doubao")),
    ("national", ("全国", "国家数据局", "national", "nationwide", "nda")),
    ("idc_totals", ("idc", "总量", "总调用量", "total", "公有云", "maas", "public cloud", "public-cloud")),
)


def find_topic(text: str) -> str | None:
    """The chart topic a user's words ask for ("谷歌", "shares", "idc_totals"), or None."""
    words = text.strip().lower()
    if words in _TOPICS:
        return words
    for topic, keys in _TOPIC_WORDS:
        if any(_mentions(words, key) for key in keys):
            return topic
    return None


def _mentions(text: str, key: str) -> bool:
    if key.isascii():  # English words stand alone: "nda" is not in "calendar"
        return re.search(rf"(?<![a-z]){re.escape(key)}", text) is not None
    return key in text


def topic_list(lang: Lang) -> str:
    """The topics with their titles, one per line, for help texts and errors."""
    index = 0 if lang == "zh" else 1
    return "\n".join(f"{topic}: {titles[index]}" for topic, titles in TOPICS.items())


def chart_spec(
    topic: str, facts: FactsTable, entity_names: Mapping[str, tuple[str, str]], lang: Lang
) -> ChartSpec:
    """The chart for a topic, from whatever the facts table holds now; UserError for an unknown topic."""
    if topic not in _TOPICS:
        raise UserError(
            f"未知的图表主题「{topic}」,可选:\n{topic_list('zh')}\n"
            f'Unknown chart topic "{topic}"; choose one of:\n{topic_list("en")}'
        )
    title_zh, title_en, data = _TOPICS[topic]
    entities = [data.entity] if data.entity else _by_latest_value(facts, data.metric)
    rows = [(entity, facts.series(data.metric, entity)) for entity in entities]
    rows = [(entity, found) for entity, found in rows if found]
    if not rows:
        raise UserError(f"暂无「{title_zh}」的数据 / No figures yet for {title_en}")
    series = tuple(Series(_name(entity, entity_names, lang), _points(found, lang)) for entity, found in rows)
    cited = [fact for _, found in rows for fact in found]
    return ChartSpec(
        topic=topic,
        title=title_zh if lang == "zh" else title_en,
        series=series,
        unit="percent" if cited[0].unit == "percent" else "tokens",
        log_scale=_needs_log(cited),
        kind=data.kind,
        source=_sources(cited, lang),
        y_label=data.y_zh if lang == "zh" else data.y_en,
    )


def chart_for_facts(
    facts: Sequence[Fact], entity_names: Mapping[str, tuple[str, str]], lang: Lang
) -> ChartSpec | None:
    """A bar chart comparing the figures an answer cited; None for fewer than two or mixed units."""
    unique = sorted({fact.key: fact for fact in facts}.values(), key=lambda f: (f.period, f.entity, f.metric))
    if len(unique) < 2 or len({fact.unit for fact in unique}) > 1:
        return None
    one_entity = len({f.entity for f in unique}) == 1
    one_period = len({f.period for f in unique}) == 1
    points = []
    for fact in unique:
        name, period = _name(fact.entity, entity_names, lang), fact.period.label(lang)
        label = period if one_entity else name if one_period else f"{name}\n{period}"
        points.append(Point(label, fact.value, fact.qualifier))
    percent = unique[0].unit == "percent"
    return ChartSpec(
        topic="answer",
        title="回答引用的数字" if lang == "zh" else "Figures cited in the answer",
        series=(Series("", tuple(points)),),
        unit="percent" if percent else "tokens",
        log_scale=_needs_log(unique),
        kind="bar",
        source=_sources(unique, lang),
        y_label=("份额" if lang == "zh" else "share") if percent else ("Tokens" if lang == "zh" else "tokens"),
    )


def _by_latest_value(facts: FactsTable, metric: str) -> list[str]:
    """Entities with the metric, the largest in its latest period first (the market leader leads)."""
    latest = {entity: facts.series(metric, entity)[-1] for entity in facts.entities(metric)}
    return sorted(latest, key=lambda e: (-latest[e].period.start.toordinal(), -latest[e].value, e))


def _name(entity: str, entity_names: Mapping[str, tuple[str, str]], lang: Lang) -> str:
    zh, en = entity_names.get(entity, (entity, entity))
    return zh if lang == "zh" else en


def _points(found: Sequence[Fact], lang: Lang) -> tuple[Point, ...]:
    return tuple(Point(fact.period.label(lang), fact.value, fact.qualifier) for fact in found)


def _needs_log(facts: Sequence[Fact]) -> bool:
    values = [fact.value for fact in facts]
    low = min(values)
    return low > 0 and max(values) / low > LOG_SCALE_RATIO


def _sources(facts: Sequence[Fact], lang: Lang) -> str:
    """Distinct reports with their publication dates, in the order the chart cites them."""
    dates: dict[str, list[str]] = {}
    for fact in facts:
        if fact.report:
            known = dates.setdefault(fact.report, [])
            if fact.published and fact.published not in known:
                known.append(fact.published)
    parts = [f"{report} ({', '.join(when)})" if when else report for report, when in dates.items()]
    return ("；" if lang == "zh" else "; ").join(parts)
