"""Prediction polls, the pure part: read /newpoll and /predict, suggest native-poll ranges, score, rank.

No I/O: handlers load and store; every number is read and written by `knowledge.units`; texts are plain.
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from typing import cast

from knowledge.catalog import MetricInfo
from knowledge.errors import UnitError, UserError
from knowledge.facts import Fact, FactsTable, Period
from knowledge.loaders import Entity
from knowledge.units import Lang, Qualifier, format_count, format_percent, parse_quantity

MAX_TOKENS = 1e18  # a thousand times the whole 2025 market: anything above is a typo
MIN_TOKENS = 1e6  # below this "1500" surely meant 1500万亿, so ask rather than record 1,500 tokens
MAX_OPTION_CHARS = 100  # Telegram's limit for a poll option
USAGE = (
    "用法 / Usage: /newpoll <指标 metric> <期间 period> [实体 entity] [YYYY-MM-DD 截止 close]\n"
    "例 / e.g. /newpoll maas_tokens 2025 2026-03-31 · /newpoll 份额 火山引擎 2025H2"
)


@dataclass(frozen=True)
class PollSpec:
    metric: str
    entity: str
    period: Period
    closes: date | None


# ---- /newpoll --------------------------------------------------------------------------------------------
_DATE = re.compile(
    r"(?<!\d)(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})|\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?)(?!\d)"
)
_PERIODS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    # Chinese and English spellings that Period.parse does not read, rewritten to ones it does.
    (re.compile(r"(\d{4})\s*年?\s*([上下])\s*半年"), lambda m: f"{m[1]}H{'1' if m[2] == '上' else '2'}"),
    (re.compile(r"(\d{4})\s*年?\s*第?\s*([一二三四1-4])\s*季度?"), lambda m: f"{m[1]}Q{_quarter(m[2])}"),
    (re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月份?"), lambda m: f"{m[1]}-{m[2]}"),
    (re.compile(r"(?i)(?<![a-z])([HQ])\s*(\d)\s+(\d{4})"), lambda m: f"{m[3]}{m[1]}{m[2]}"),
    (re.compile(r"(?i)(?<![\w-])(\d{4}(?:\s*[HQ]\s*\d+|-\d{1,2})?)\s*年?(?![0-9a-z-])"), lambda m: m[1]),
)
_FILLERS = ("中国", "china", "idc", "maas", "市场", "market", "全年", "fullyear", "的", "预测", "forecast")


def _quarter(word: str) -> str:
    return str("一二三四".index(word) + 1) if word in "一二三四" else word


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _close_date(text: str, today: date, problems: list[str]) -> tuple[date | None, str]:
    found = list(_DATE.finditer(text))
    if not found:
        return None, text
    if len(found) > 1:
        problems.append("只能有一个截止日期 / only one close date, please")
    m = found[0]
    try:
        closes: date | None = date(int(m[1]), int(m[2] or m[4]), int(m[3] or m[5]))
    except ValueError:
        problems.append(f"日期无效「{m[0].strip()}」/ not a real date: {m[0].strip()}")
        return None, _DATE.sub(" ", text)
    if closes is not None and closes <= today:
        problems.append(f"截止日期必须晚于今天 {today.isoformat()} / the close date must be after today")
    return closes, _DATE.sub(" ", text)


def _period(text: str, problems: list[str]) -> tuple[Period | None, str]:
    words: list[str] = []
    for pattern, rewrite in _PERIODS:
        words += [rewrite(m) for m in pattern.finditer(text)]
        text = pattern.sub(" ", text)
    if not words:
        problems.append("缺少期间,如 2025、2025H2、2025-12 / missing period, e.g. 2025, 2025H2, 2025-12")
        return None, text
    if len(words) > 1:
        problems.append(f"只能有一个期间 / only one period, please: {', '.join(words)}")
    try:
        return Period.parse(words[0]), text
    except UserError:
        problems.append(f"看不懂的期间「{words[0]}」/ not a period: {words[0]} (2025, 2025H2, 2025Q3, 2025-12)")
        return None, text


def _names(metrics: Mapping[str, MetricInfo], entities: Sequence[Entity]) -> list[tuple[str, str, str]]:
    """(compact name, "metric" | "entity", id), longest first, so 阿里云 wins over 阿里."""
    names = [(m.id, "metric", m.id) for m in metrics.values()]
    names += [(n, "metric", m.id) for m in metrics.values() for n in (m.name_zh, m.name_en, *m.aliases)]
    names += [(n, "entity", e.id) for e in entities for n in (e.id, e.name_zh, e.name_en, *e.aliases)]
    return sorted({(_compact(n), k, i) for n, k, i in names if n.strip()}, key=lambda t: -len(t[0]))


def _words(text: str, names: list[tuple[str, str, str]]) -> tuple[dict[str, set[str]], str]:
    """Metric and entity ids named in `text`, and whatever was left unrecognised."""
    found: dict[str, set[str]] = {"metric": set(), "entity": set()}
    rest = _compact(text)
    for name, kind, ident in names:
        if name and name in rest:
            found[kind].add(ident)
            rest = rest.replace(name, " ")
    for filler in _FILLERS:
        rest = rest.replace(filler, " ")
    return found, " ".join(re.sub(r"[^\w]+", " ", rest).split())


def _entity(metric: str, given: set[str], facts: FactsTable, problems: list[str]) -> str | None:
    known = facts.entities(metric)
    if len(given) > 1:
        problems.append(f"只能有一个实体 / only one entity, please: {', '.join(sorted(given))}")
    if given:
        entity = sorted(given)[0]
        if entity not in known:
            problems.append(f"{entity} 没有 {metric} 的数据 / has no {metric} figures; try: {', '.join(known)}")
        return entity
    if len(known) == 1:
        return known[0]
    problems.append(f"{metric} 需要指定实体 / {metric} needs an entity: {', '.join(known)}")
    return None


def parse_newpoll(
    args: Sequence[str],
    facts: FactsTable,
    metrics: Mapping[str, MetricInfo],
    entities: Sequence[Entity],
    today: date,
) -> PollSpec:
    """Reads "/newpoll <metric> <period> [entity] [close date]"; one UserError lists every problem."""
    problems: list[str] = []
    text = unicodedata.normalize("NFKC", " ".join(args))
    closes, text = _close_date(text, today, problems)
    period, text = _period(text, problems)
    found, rest = _words(text, _names(metrics, entities))
    if rest:
        problems.append(f"看不懂「{rest}」/ not understood: {rest}")
    metric = _metric(found["metric"], facts, metrics, problems)
    entity = _entity(metric, found["entity"], facts, problems) if metric else None
    if metric and entity and period and facts.get(metric, entity, period) is not None:
        problems.append(f"{period} 的数字已经公布 / the {period} figure is already known")
    if problems or metric is None or entity is None or period is None:
        raise UserError("\n".join([*(f"• {p}" for p in problems), USAGE]))
    return PollSpec(metric, entity, period, closes)


def _metric(
    given: set[str], facts: FactsTable, metrics: Mapping[str, MetricInfo], problems: list[str]
) -> str | None:
    if len(given) != 1:
        choices = ", ".join(m for m in metrics if m in facts.metrics())
        what = "只能有一个指标 / only one metric" if given else "缺少指标 / missing metric"
        problems.append(f"{what} ({choices})")
        return None
    metric = next(iter(given))
    if metric not in facts.metrics():
        problems.append(f"{metric} 还没有任何数据 / has no figures yet")
        return None
    return metric


# ---- wording ---------------------------------------------------------------------------------------------
def _cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def period_text(period: Period, lang: Lang) -> str:
    """2025 → "2025 年全年" / "full year 2025"; other periods as `Period.label` writes them."""
    if period.kind == "year":
        return f"{period.year} 年全年" if lang == "zh" else f"full year {period.year}"
    return period.label(lang)


def poll_question(spec: PollSpec, metric_info: MetricInfo | None, entity_name: str, lang: Lang) -> str:
    """The question everyone answers, e.g. IDC:中国大模型公有云 Tokens 调用量,2025 年全年?

    An empty `entity_name` (the metric's only entity, the market itself) reads 中国 / China.
    """
    metric = metric_info.name(lang) if metric_info else spec.metric
    subject = entity_name or ("中国" if lang == "zh" else "China")
    sep = "" if lang == "zh" and _cjk(subject[-1:]) and _cjk(metric[:1]) else " "
    if lang == "zh":
        return f"IDC:{subject}{sep}{metric},{period_text(spec.period, lang)}?"
    return f"IDC: {subject}{sep}{metric}, {period_text(spec.period, lang)}?"


def subject_name(spec: PollSpec, facts: FactsTable, entities: Sequence[Entity], lang: Lang) -> str:
    """The entity_name poll_question wants: "" when the entity is the metric's only one, else its name."""
    if facts.entities(spec.metric) == [spec.entity]:
        return ""
    entity = next((e for e in entities if e.id == spec.entity), None)
    return (entity.name_zh if lang == "zh" else entity.name_en) if entity else spec.entity


def format_value(value: float, unit: str, lang: Lang, qualifier: Qualifier = "exact") -> str:
    return format_percent(value, qualifier, lang) if unit == "percent" else format_count(value, lang, qualifier)


def history_lines(facts: FactsTable, metric: str, entity: str, lang: Lang) -> list[str]:
    """One line per known figure, oldest first: "2024 年:114.2 万亿" / "2024: 114.2 trillion"."""
    colon = ":" if lang == "zh" else ": "
    return [
        f"{f.period.label(lang)}{colon}{format_value(f.value, f.unit, lang, cast(Qualifier, f.qualifier))}"
        for f in facts.series(metric, entity)
    ]


# ---- /predict --------------------------------------------------------------------------------------------
def _refuse(text: str, zh: str, en: str) -> UserError:
    return UserError(f'{zh}:「{text.strip()}」/ {en}: "{text.strip()}"')


def parse_prediction(text: str, unit: str) -> float:
    """A positive count (1500万亿, 1.5 quadrillion, 1.5e15) or, for unit "percent", a share (45% or 45)."""
    try:
        quantity = parse_quantity(text)
    except UnitError:
        raise _refuse(text, "无法识别数值", "could not read a number") from None
    value = quantity.value
    if unit == "percent":
        wrong = quantity.kind not in ("percent", "count") or (quantity.kind == "count" and value > 100)
        kind_zh, kind_en = "这里需要百分比(如 45%)", "a share is a percentage, like 45%"
    else:
        wrong = quantity.kind != "count"
        kind_zh, kind_en = "这里需要 Tokens 数量(如 1500万亿)", "a token total is a count, like 1.5 quadrillion"
    if wrong:
        raise _refuse(text, kind_zh, kind_en)
    if value <= 0:
        raise _refuse(text, "预测值必须大于 0", "a prediction must be above zero")
    if value > (100 if unit == "percent" else MAX_TOKENS):
        raise _refuse(text, "数值大得不合理", "that number is implausibly large")
    if unit != "percent" and value < MIN_TOKENS:
        raise _refuse(
            text, "数值小得不合理,是否漏了单位(如 万亿)", "implausibly small; add a unit, like 1500 trillion"
        )
    return value


def confirmation(poll_id: int, value: float, unit: str, lang: Lang) -> str:
    """The value in both unit systems, the reader's first: "已记录 #3:1,500 万亿(1.5 quadrillion)"."""
    if unit == "percent":
        shown = format_percent(value)
    else:
        other: Lang = "en" if lang == "zh" else "zh"
        shown = f"{format_count(value, lang)}{'(' if lang == 'zh' else ' ('}{format_count(value, other)})"
    return f"已记录 #{poll_id}:{shown}" if lang == "zh" else f"Recorded #{poll_id}: {shown}"


# ---- native poll ranges ----------------------------------------------------------------------------------
_NICE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
_STEP = {"tokens": 1.5, "percent": 1.15}  # the width of one range, as a ratio of its edges


def _growth(history: Sequence[Fact], fact: Fact) -> float:
    """The growth from the previous period of the same kind to `fact`, or 1 when that is unknown."""
    before = next((f for f in history if f.period == fact.period.previous()), None)
    return fact.value / before.value if before and before.value > 0 and fact.value > 0 else 1.0


def estimate(history: Sequence[Fact], period: Period, unit: str) -> float:
    """A plausible value for `period`: a share stays where it was; a total extrapolates its parts or trend."""
    earlier = [f for f in history if f.period != period and f.period.end <= period.end and f.value > 0]
    if not earlier:
        raise UserError(f"没有历史数据可用来给出区间 / no history to suggest ranges for {period}")
    latest = max(earlier, key=lambda f: f.period.end)
    if unit == "percent":
        return latest.value
    parts = [f for f in earlier if period.contains(f.period)]
    if parts:
        last = max(parts, key=lambda f: f.period.end)
        same = [f for f in parts if f.period.kind == last.period.kind]
        missing = period.months // last.period.months - len(same)
        g = _growth(history, last)
        return sum(f.value for f in same) + sum(last.value * g ** (k + 1) for k in range(missing))
    same_kind = [f for f in earlier if f.period.kind == period.kind]
    if same_kind:
        last = max(same_kind, key=lambda f: f.period)
        months = (period.year - last.period.year) * 12 + period.start.month - last.period.start.month
        steps = months // period.months
        return last.value * _growth(history, last) ** steps
    return latest.value * period.months / latest.period.months


def _round(value: float, nice: bool) -> float:
    """To the nearest (in ratio) 1-1.2-1.5-2-2.5-3-4-5-6-8 number, or to 2 significant digits."""
    exponent = math.floor(math.log10(value))
    if not nice:
        return float(f"{value:.1e}")
    mantissa = min(_NICE, key=lambda m: abs(math.log(value / (m * 10**exponent))))
    return float(f"{mantissa * 10**exponent:.2g}")


def _edges(centre: float, step: float, count: int, unit: str) -> list[float]:
    raw = [centre * step ** (k - (count - 1) / 2) for k in range(count)]
    if unit == "percent":
        raw = [min(max(x, 0.1), 99.0) for x in raw]
    for nice in (True, False):
        edges = sorted({_round(x, nice) for x in raw})
        if len(edges) == count:
            return edges
    return edges


def native_ranges(
    history: Sequence[Fact], period: Period, unit: str, n: int = 5
) -> list[tuple[float | None, float | None]]:
    """`n` (4–6) contiguous ranges around `estimate`, open at both ends, edges rounded to nice numbers."""
    n = min(max(n, 4), 6)
    edges = _edges(estimate(history, period, unit), _STEP.get(unit, 1.5), n - 1, unit)
    bounds: list[float | None] = [None, *edges, None]
    return list(pairwise(bounds))


def range_point(low: float | None, high: float | None) -> float | None:
    """The value a range vote stands for: its geometric midpoint, or its finite edge when open."""
    if low is not None and high is not None:
        return math.sqrt(low * high)
    return low if low is not None else high


def range_label(low: float | None, high: float | None, unit: str, lang: Lang) -> str:
    """A poll option: < 800 万亿, 800–1,200 万亿, > 2,000 万亿; a unit both edges share is written once."""
    if high is not None and low is None:
        return f"< {format_value(high, unit, lang)}"[:MAX_OPTION_CHARS]
    if low is not None and high is None:
        return f"> {format_value(low, unit, lang)}"[:MAX_OPTION_CHARS]
    if low is None or high is None:
        return "*"
    left, right = format_value(low, unit, lang), format_value(high, unit, lang)
    if unit == "percent":
        return f"{left.removesuffix('%')}–{right}"
    (left_number, _, left_unit), (right_number, _, right_unit) = left.partition(" "), right.partition(" ")
    if left_unit == right_unit:
        return f"{left_number}–{right_number} {right_unit}".strip()[:MAX_OPTION_CHARS]
    return f"{left} – {right}"[:MAX_OPTION_CHARS]


# ---- scoring ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One user's prediction: a number (`value`) or a vote for the range [low, high) of the native poll."""

    user_id: int
    user_name: str
    value: float | None
    low: float | None
    high: float | None
    predicted_at: datetime


@dataclass(frozen=True)
class Scored:
    entry: Entry
    score: float
    rank: int


@dataclass(frozen=True)
class Results:
    actual: float
    ranking: tuple[Scored, ...]
    crowd_median: float | None
    crowd_error: float | None


def score(prediction: float | None, low: float | None, high: float | None, actual: float) -> float:
    """The log error |ln(prediction / actual)|; a range vote is 0 inside [low, high), else off its nearest edge."""
    if actual <= 0:
        raise ValueError(f"the actual figure must be positive, not {actual!r}")
    if prediction is not None:
        if prediction <= 0:
            raise ValueError(f"a prediction must be positive, not {prediction!r}")
        return abs(math.log(prediction / actual))
    if low is None and high is None:
        raise ValueError("an entry needs a value or a range")
    if low is not None and actual < low:
        return math.log(low / actual)
    if high is not None and actual >= high:
        return math.log(actual / high)
    return 0.0


def point(entry: Entry) -> float | None:
    """What an entry says as one number: its value, or its range's `range_point`."""
    return entry.value if entry.value is not None else range_point(entry.low, entry.high)


def resolve(entries: Sequence[Entry], actual: float) -> Results:
    """Ranks by score; ties go to the earlier prediction, then the lower user id; ranks run 1..n."""
    scored = sorted(
        ((score(e.value, e.low, e.high, actual), e) for e in entries),
        key=lambda pair: (pair[0], pair[1].predicted_at, pair[1].user_id),
    )
    ranking = tuple(Scored(entry, value, rank) for rank, (value, entry) in enumerate(scored, start=1))
    points = [p for p in map(point, entries) if p is not None and p > 0]
    median = statistics.median(points) if points else None
    error = abs(math.log(median / actual)) if median else None
    return Results(actual, ranking, median, error)


# ---- the crowd so far ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Distribution:
    count: int
    median: float
    q1: float
    q3: float
    low: float
    high: float


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def distribution(values: Sequence[float]) -> Distribution | None:
    """Count, median and quartiles (linear interpolation between order statistics); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    quantiles = [_quantile(ordered, q) for q in (0.25, 0.5, 0.75)]
    return Distribution(len(ordered), quantiles[1], quantiles[0], quantiles[2], ordered[0], ordered[-1])


def histogram_bins(values: Sequence[float], bins: int = 8) -> list[tuple[float, float, int]]:
    """`bins` log-spaced (low, high, count) bins over [min, max], the last one closed; one bin for one value."""
    if not values:
        return []
    low, high = min(values), max(values)
    if low <= 0:
        raise ValueError("log bins need positive values")
    if low == high:
        return [(low, high, len(values))]
    ratio = (high / low) ** (1 / bins)
    edges = [low * ratio**k for k in range(bins)] + [high]
    counts = [0] * bins
    for value in values:
        counts[min(int(math.log(value / low) / math.log(ratio)), bins - 1)] += 1
    return [(edges[k], edges[k + 1], counts[k]) for k in range(bins)]


# ---- texts -----------------------------------------------------------------------------------------------
_STATUS = {
    "open": ("进行中", "open"),
    "closed": ("已截止,等待公布", "closed, waiting for the figure"),
    "resolved": ("已揭晓", "resolved"),
}


def _score_text(value: float, lang: Lang) -> str:
    return format_count(value, lang, digits=2)


def _entry_text(entry: Entry, unit: str, lang: Lang) -> str:
    if entry.value is not None:
        return format_value(entry.value, unit, lang)
    return range_label(entry.low, entry.high, unit, lang)


def results_text(poll_question: str, results: Results, unit: str, source: str, lang: Lang, top: int = 10) -> str:
    """The figure and its source, the crowd's median and error, then the top `top` with their scores."""
    zh = lang == "zh"
    actual = format_value(results.actual, unit, lang)
    lines = [f"揭晓:{poll_question}" if zh else f"Resolved: {poll_question}"]
    lines.append(f"实际:{actual}(来源:{source})" if zh else f"Actual: {actual} (source: {source})")
    if results.crowd_median is not None and results.crowd_error is not None:
        median, error = format_value(results.crowd_median, unit, lang), _score_text(results.crowd_error, lang)
        lines.append(f"群体中位数 {median},误差 {error}" if zh else f"Crowd median {median}, error {error}")
    if not results.ranking:
        lines.append("没有人参与预测。" if zh else "Nobody made a prediction.")
        return "\n".join(lines)
    lines.append(
        "排名(误差 = |ln(预测/实际)|,越小越好):"
        if zh
        else "Ranking (error = |ln(guess/actual)|, lower is better):"
    )
    for s in results.ranking[:top]:
        guess, error = _entry_text(s.entry, unit, lang), _score_text(s.score, lang)
        lines.append(
            f"{s.rank}. {s.entry.user_name}:{guess},误差 {error}"
            if zh
            else f"{s.rank}. {s.entry.user_name}: {guess}, error {error}"
        )
    if len(results.ranking) > top:
        rest = len(results.ranking) - top
        lines.append(f"……另有 {rest} 人" if zh else f"…and {rest} more")
    return "\n".join(lines)


def summary_text(
    question: str, dist: Distribution | None, closes: date | None, status: str, lang: Lang, unit: str = "tokens"
) -> str:
    """/poll <id> before resolution: the crowd as count, median and quartiles, never anyone's own number."""
    zh = lang == "zh"
    words = _STATUS.get(status, (status, status))[0 if zh else 1]
    lines = [question, f"状态:{words}" if zh else f"Status: {words}"]
    if closes is not None:
        lines.append(f"截止:{closes.isoformat()}" if zh else f"Closes: {closes.isoformat()}")
    if dist is None:
        lines.append("还没有人预测。" if zh else "No predictions yet.")
        return "\n".join(lines)
    median, q1, q3 = (format_value(v, unit, lang) for v in (dist.median, dist.q1, dist.q3))
    if zh:
        lines.append(f"{dist.count} 人预测;中位数 {median},四分位 {q1} 至 {q3}")
    else:
        lines.append(f"{dist.count} predictions; median {median}, quartiles {q1} to {q3}")
    return "\n".join(lines)
