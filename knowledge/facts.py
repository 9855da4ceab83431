"""Facts: one typed figure per row with its provenance, and the periods they are measured over.

`FactsTable` is the in-memory store the answer path reads; lookups go through dicts, never pandas.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property, total_ordering
from typing import TYPE_CHECKING, Any, Literal

from knowledge.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

PeriodKind = Literal["year", "half", "quarter", "month"]
QUALIFIERS = ("exact", "at_least", "at_most", "about")
UNITS = ("tokens", "percent")
FRAME_COLUMNS = ["metric", "entity", "period", "value", "unit", "qualifier", "report", "published"]
FRAME_COLUMNS += ["source", "quote", "origin", "value_text"]

_MONTHS_PER = {"year": 12, "half": 6, "quarter": 3, "month": 1}
_COUNT_PER_YEAR = {"year": 1, "half": 2, "quarter": 4, "month": 12}
_ZH_DIGITS = "一二三四"
_PATTERNS: tuple[tuple[PeriodKind, re.Pattern[str]], ...] = (
    ("year", re.compile(r"(\d{4})")),
    ("half", re.compile(r"(\d{4})H(\d)", re.IGNORECASE)),
    ("quarter", re.compile(r"(\d{4})Q(\d)", re.IGNORECASE)),
    ("month", re.compile(r"(\d{4})-(\d{1,2})")),
)
_PUBLISHED = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


@total_ordering
@dataclass(frozen=True)
class Period:
    """A calendar year, half, quarter or month.

    Periods sort by (start, end): 2025-01 < 2025Q1 < 2025H1 < 2025 < 2025-02, i.e. by start date, and a
    shorter period before a longer one that starts on the same day.
    """

    kind: PeriodKind
    year: int
    index: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _MONTHS_PER:
            raise UserError(f"unknown kind of period: {self.kind!r}")
        top = _COUNT_PER_YEAR[self.kind] if self.kind != "year" else 0
        low = 0 if self.kind == "year" else 1
        if not low <= self.index <= top:
            raise UserError(f"there is no {self.kind} {self.index} (allowed: {low}–{top})")

    @classmethod
    def of_year(cls, year: int) -> Period:
        return cls("year", year)

    @classmethod
    def of_half(cls, year: int, half: int) -> Period:
        return cls("half", year, half)

    @classmethod
    def of_quarter(cls, year: int, quarter: int) -> Period:
        return cls("quarter", year, quarter)

    @classmethod
    def of_month(cls, year: int, month: int) -> Period:
        return cls("month", year, month)

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read `2024`, `2025H1`, `2025Q3` or `2025-05` (case and spaces don't matter)."""
        compact = re.sub(r"\s+", "", str(text))
        for kind, pattern in _PATTERNS:
            match = pattern.fullmatch(compact)
            if match:
                index = int(match.group(2)) if kind != "year" else 0
                try:
                    return cls(kind, int(match.group(1)), index)
                except UserError as exc:
                    raise UserError(f"not a valid period: {text!r}: {exc.message}") from None
        raise UserError(
            f"not a valid period: {text!r} (write a year 2024, a half 2025H1, a quarter 2025Q3 or a month 2025-05)"
        )

    @property
    def months(self) -> int:
        return _MONTHS_PER[self.kind]

    @property
    def start(self) -> date:
        first_month = 1 if self.kind == "year" else (self.index - 1) * self.months + 1
        return date(self.year, first_month, 1)

    @property
    def end(self) -> date:
        """The last day of the period (inclusive)."""
        last_month = self.start.month + self.months - 1
        return date(self.year, last_month, calendar.monthrange(self.year, last_month)[1])

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, other: Period) -> bool:
        """True when `other` lies entirely inside this period (a period contains itself)."""
        return self.start <= other.start and other.end <= self.end

    def previous(self) -> Period:
        """The period of the same kind just before this one: 2025H1 -> 2024H2, 2025-01 -> 2024-12."""
        if self.kind == "year":
            return Period.of_year(self.year - 1)
        if self.index > 1:
            return Period(self.kind, self.year, self.index - 1)
        return Period(self.kind, self.year - 1, _COUNT_PER_YEAR[self.kind])

    def label(self, lang: str = "zh") -> str:
        """A human label: zh "2025 年上半年", en "H1 2025"; any language but zh gets English."""
        return self._label_zh() if lang.lower().startswith("zh") else self._label_en()

    def _label_zh(self) -> str:
        if self.kind == "half":
            return f"{self.year} 年{'上' if self.index == 1 else '下'}半年"
        if self.kind == "quarter":
            return f"{self.year} 年第{_ZH_DIGITS[self.index - 1]}季度"
        if self.kind == "month":
            return f"{self.year} 年 {self.index} 月"
        return f"{self.year} 年"

    def _label_en(self) -> str:
        if self.kind == "year":
            return str(self.year)
        if self.kind == "month":
            return f"{calendar.month_name[self.index]} {self.year}"
        return f"{'H' if self.kind == 'half' else 'Q'}{self.index} {self.year}"

    def __str__(self) -> str:
        if self.kind == "year":
            return str(self.year)
        if self.kind == "month":
            return f"{self.year}-{self.index:02d}"
        return f"{self.year}{'H' if self.kind == 'half' else 'Q'}{self.index}"

    def _sort_key(self) -> tuple[date, date]:
        return (self.start, self.end)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._sort_key() < other._sort_key()


def parse_published(text: str) -> date | None:
    """Read a publication date `YYYY`, `YYYY-MM` or `YYYY-MM-DD`; None when it is not one of those."""
    match = _PUBLISHED.fullmatch(text.strip())
    if not match:
        return None
    year, month, day = (int(part) if part else 1 for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


@dataclass(frozen=True)
class Fact:
    """One figure: `value` in base units (a plain token count, or a percent number for unit "percent")."""

    metric: str
    entity: str
    period: Period
    value: float
    qualifier: str
    unit: str
    report: str
    published: str
    source: str
    quote: str
    origin: str = ""
    value_text: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.metric, self.entity, str(self.period))

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape of a fact (used by `ask --json`; keep the keys stable)."""
        return {
            "metric": self.metric,
            "entity": self.entity,
            "period": str(self.period),
            "value": self.value,
            "unit": self.unit,
            "qualifier": self.qualifier,
            "report": self.report,
            "published": self.published,
            "source": self.source,
            "quote": self.quote,
        }

    def published_period(self) -> Period | None:
        """The month of publication ("2025-07-23" -> 2025-07), or the year when only that is known."""
        day = parse_published(self.published)
        if day is None:
            return None
        if self.published.strip().isdigit():
            return Period.of_year(day.year)
        return Period.of_month(day.year, day.month)


_Key = tuple[str, str, Period]


def _fact_order(fact: Fact) -> tuple[Period, str, str]:
    return (fact.period, fact.entity, fact.metric)


class FactsTable:
    """An immutable set of facts, at most one per (metric, entity, period), with O(1) lookups.

    When two facts share a key, the one that comes later in the input wins; `merged` relies on this.
    """

    def __init__(self, facts: Iterable[Fact] = ()) -> None:
        by_key: dict[_Key, Fact] = {}
        for fact in facts:
            by_key[(fact.metric, fact.entity, fact.period)] = fact
        self._by_key = by_key
        self._all = sorted(by_key.values(), key=_fact_order)
        self._series: dict[tuple[str, str], list[Fact]] = {}
        self._by_metric: dict[str, list[Fact]] = {}
        for fact in self._all:
            self._series.setdefault((fact.metric, fact.entity), []).append(fact)
            self._by_metric.setdefault(fact.metric, []).append(fact)
        self._periods: dict[tuple[str | None, str | None], tuple[Period, ...]] = {}

    @cached_property
    def _by_metric_period(self) -> dict[tuple[str, Period], list[Fact]]:
        """Facts by (metric, period), in table order: a ranking reads one period of thousands of shares."""
        index: dict[tuple[str, Period], list[Fact]] = {}
        for fact in self._all:
            index.setdefault((fact.metric, fact.period), []).append(fact)
        return index

    @cached_property
    def frame(self) -> pd.DataFrame:
        """All facts as a DataFrame (period as text), sorted like `lookup`; built on first use."""
        import pandas as pd

        rows = [{**f.to_dict(), "origin": f.origin, "value_text": f.value_text} for f in self._all]
        return pd.DataFrame(rows, columns=FRAME_COLUMNS)

    def get(self, metric: str, entity: str, period: Period | str) -> Fact | None:
        return self._by_key.get((metric, entity, _as_period(period)))

    def lookup(
        self, metric: str | None = None, entity: str | None = None, period: Period | str | None = None
    ) -> list[Fact]:
        """Facts matching every given field, sorted by period then entity."""
        if metric is not None and entity is not None:
            candidates = self._series.get((metric, entity), [])
        elif metric is not None and period is not None:
            candidates = self._by_metric_period.get((metric, _as_period(period)), [])
        elif metric is not None:
            candidates = self._by_metric.get(metric, [])
        else:
            candidates = self._all
        wanted = _as_period(period) if period is not None else None
        return [
            f
            for f in candidates
            if (entity is None or f.entity == entity) and (wanted is None or f.period == wanted)
        ]

    def series(self, metric: str, entity: str) -> list[Fact]:
        return list(self._series.get((metric, entity), []))

    def metrics(self) -> list[str]:
        return sorted(self._by_metric)

    def entities(self, metric: str | None = None) -> list[str]:
        return sorted({f.entity for f in self.lookup(metric=metric)})

    def periods(self, metric: str | None = None, entity: str | None = None) -> list[Period]:
        key = (metric, entity)
        if key not in self._periods:  # the table never changes, and `latest` asks on every question
            self._periods[key] = tuple(sorted({f.period for f in self.lookup(metric=metric, entity=entity)}))
        return list(self._periods[key])

    def latest(self, metric: str, entity: str | None = None) -> Period | None:
        """The last period (in `Period` order) that has a figure, or None."""
        periods = self.periods(metric, entity)
        return periods[-1] if periods else None

    def published_in(self, metric: str, entity: str, period: Period | str) -> list[Fact]:
        """Facts of the series whose publication date falls inside `period`."""
        window = _as_period(period)
        return [f for f in self._series.get((metric, entity), []) if _published_inside(f, window)]

    def merged(self, newer: Iterable[Fact]) -> FactsTable:
        """A new table where `newer` facts replace those with the same key."""
        return FactsTable([*self._by_key.values(), *newer])

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Iterator[Fact]:
        return iter(self._all)

    def __contains__(self, item: object) -> bool:
        """A Fact is in the table when it is the one stored under its key; a key tuple when any is."""
        if isinstance(item, Fact):
            return self._by_key.get((item.metric, item.entity, item.period)) == item
        if isinstance(item, tuple) and len(item) == 3:
            metric, entity, period = item
            return self.get(str(metric), str(entity), period) is not None
        return False

    def __repr__(self) -> str:
        return f"FactsTable({len(self)} facts)"


def _as_period(period: Period | str) -> Period:
    return period if isinstance(period, Period) else Period.parse(period)


def _published_inside(fact: Fact, window: Period) -> bool:
    published = fact.published_period()
    return published is not None and window.contains(published)
