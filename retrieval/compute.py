"""Arithmetic over cited figures, every step recorded as expression, result and unit.

Pure functions: operands in, (result operand or value, computation record) out. Formatting of the
numbers inside expressions goes through `knowledge.units`, the one home for numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from knowledge.facts import Fact, Period
from knowledge.units import format_count, format_percent, format_points, format_ratio

Lang = Literal["zh", "en"]
ResultUnit = Literal["tokens", "percent", "ratio", "points"]
STANDARD_MONTH_DAYS = 30  # how sources turn a daily average into "a month" (16.4 万亿 × 30 ≈ 492 万亿)


@dataclass(frozen=True)
class Computation:
    """One arithmetic step shown to the user."""

    expression: str
    result: float
    unit: ResultUnit

    def to_dict(self) -> dict[str, object]:
        return {"expression": self.expression, "result": round(self.result, 6), "unit": self.unit}


@dataclass(frozen=True)
class Operand:
    """A figure an answer works with: a fact as cited, or derived from facts by shown steps."""

    metric: str
    entity: str
    period: Period
    value: float
    unit: str  # "tokens" or "percent"
    qualifier: str
    facts: tuple[Fact, ...]
    steps: tuple[Computation, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, fact: Fact, *notes: str) -> Operand:
        return cls(
            fact.metric,
            fact.entity,
            fact.period,
            fact.value,
            fact.unit,
            fact.qualifier,
            (fact,),
            notes=tuple(notes),
        )

    @property
    def is_lower_bound(self) -> bool:
        return self.qualifier == "at_least"

    def show(self, lang: Lang) -> str:
        return show_value(self.value, self.unit, lang)


def show_value(value: float, unit: str, lang: Lang) -> str:
    if unit == "percent":
        return format_percent(value)
    if unit == "ratio":
        return format_ratio(value)
    if unit == "points":
        return format_points(value, lang)
    return format_count(value, lang)


def combined_qualifier(*operands: Operand) -> str:
    return "at_least" if any(o.is_lower_bound for o in operands) else "exact"


def ratio(a: Operand, b: Operand, lang: Lang) -> Computation:
    value = a.value / b.value
    return Computation(f"{a.show(lang)} ÷ {b.show(lang)} ≈ {format_ratio(value)}", value, "ratio")


def difference(a: Operand, b: Operand, lang: Lang) -> Computation:
    value = a.value - b.value
    unit: ResultUnit = "points" if a.unit == "percent" else "tokens"
    shown = format_points(value, lang) if unit == "points" else format_count(value, lang)
    return Computation(f"{a.show(lang)} − {b.show(lang)} = {shown}", value, unit)


def growth(new: Operand, old: Operand, lang: Lang) -> Computation:
    value = (new.value / old.value - 1) * 100
    return Computation(
        f"({new.show(lang)} ÷ {old.show(lang)} − 1) × 100% ≈ {format_percent(value)}", value, "percent"
    )


def total(operands: Sequence[Operand], lang: Lang) -> Computation:
    value = sum(o.value for o in operands)
    unit: ResultUnit = "percent" if operands[0].unit == "percent" else "tokens"
    parts = " + ".join(o.show(lang) for o in operands)
    return Computation(f"{parts} = {show_value(value, unit, lang)}", value, unit)


def remainder(shares: Sequence[Operand], lang: Lang) -> Computation:
    value = 100.0 - sum(o.value for o in shares)
    parts = " − ".join(o.show(lang) for o in shares)
    return Computation(f"100% − {parts} = {format_percent(value)}", value, "percent")


def share_of(share: Operand, whole: Operand, lang: Lang) -> Operand:
    """A vendor's volume from its share of a total: 49.2% × 536.7 万亿."""
    value = share.value / 100 * whole.value
    step = Computation(f"{share.show(lang)} × {whole.show(lang)} ≈ {format_count(value, lang)}", value, "tokens")
    return Operand(
        "maas_tokens",
        share.entity,
        share.period,
        value,
        "tokens",
        combined_qualifier(share, whole),
        share.facts + whole.facts,
        share.steps + whole.steps + (step,),
    )


def per_month(op: Operand, lang: Lang) -> Operand:
    """A period total spread evenly over its months (536.7 万亿 ÷ 6)."""
    months = op.period.months
    value = op.value / months
    word = "个月" if lang == "zh" else " months"
    step = Computation(f"{op.show(lang)} ÷ {months}{word} ≈ {format_count(value, lang)}", value, "tokens")
    return replace(op, value=value, steps=(*op.steps, step))


def per_day(op: Operand, lang: Lang) -> Operand:
    """A period total spread evenly over its calendar days."""
    days = op.period.days
    value = op.value / days
    word = " 天" if lang == "zh" else " days"
    step = Computation(f"{op.show(lang)} ÷ {days}{word} ≈ {format_count(value, lang)}", value, "tokens")
    return replace(op, value=value, steps=(*op.steps, step))


def daily_to_month(op: Operand, lang: Lang, days: int = STANDARD_MONTH_DAYS) -> Operand:
    """A daily average scaled to a month, the way sources do it (× 30 days)."""
    value = op.value * days
    word = " 天" if lang == "zh" else " days"
    step = Computation(f"{op.show(lang)} × {days}{word} ≈ {format_count(value, lang)}", value, "tokens")
    return replace(op, value=value, steps=(*op.steps, step))


def flat_full_year(half: Operand, lang: Lang) -> Computation:
    """ "If H2 equals H1": the full year is twice the half."""
    value = half.value * 2
    return Computation(f"{half.show(lang)} × 2 = {format_count(value, lang)}", value, "tokens")
