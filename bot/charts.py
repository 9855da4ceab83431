"""Draw a `retrieval.charts.ChartSpec` as a PNG, with Chinese glyphs (Noto Sans CJK from mplfonts).

Uses the object-oriented API (a `Figure` on its own Agg canvas), so renders share no pyplot state.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import threading
import unicodedata
from pathlib import Path
from typing import cast

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.ticker import FuncFormatter, NullLocator

from knowledge.units import Lang, Qualifier, format_count, format_percent, qualifier_words
from retrieval.charts import ChartSpec, Point

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
SIZE_INCHES = (8.0, 4.5)
DPI = 150
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
_FOOTNOTE_POINTS = 7
_FOOTNOTE_WIDTH = 175  # in half-width characters; a CJK character counts two
# English labels use symbols: "more than 1.3 quadrillion" under every point would crowd the chart.
_EN_MARKERS = {"at_least": "≥ ", "at_most": "≤ ", "about": "~"}
_register_lock = threading.Lock()


@functools.cache
def cjk_family() -> str:
    """Register mplfonts' Noto Sans CJK SC with matplotlib (once) and return its family name."""
    spec = importlib.util.find_spec("mplfonts")  # not imported: its __init__ pulls in a CLI toolkit
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the mplfonts package is not installed; Chinese text would render as boxes")
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / CJK_FONT_FILE
    with _register_lock:
        fontManager.addfont(str(path))
    return FontProperties(fname=str(path)).get_name()


def _font(size: float) -> FontProperties:
    # Regular weight only: mplfonts ships no bold Noto CJK, and asking for one logs a findfont warning.
    return FontProperties(family=[cjk_family(), "DejaVu Sans"], size=size)


def value_label(point: Point, unit: str, lang: Lang) -> str:
    """A point's value as the answers write it: "超过 50 万亿" / "≥ 1.3 quadrillion" / "49.2%"."""
    number = format_percent(point.value) if unit == "percent" else format_count(point.value, lang)
    if point.qualifier not in _EN_MARKERS:
        return number
    if lang == "zh":
        return f"{qualifier_words(cast(Qualifier, point.qualifier), 'zh')} {number}"
    return _EN_MARKERS[point.qualifier] + number


def render_png(spec: ChartSpec, lang: Lang) -> bytes:
    """The chart as PNG bytes, 8×4.5 in at 150 dpi, titles and labels in `lang`."""
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = spec.labels
    if spec.kind == "bar":
        _draw_bars(axes, spec, labels, lang)
    else:
        _draw_lines(axes, spec, labels, lang)
    _style_axes(axes, spec, labels, lang)
    footnote = _wrap(("来源：" if lang == "zh" else "Source: ") + spec.source, _FOOTNOTE_WIDTH)
    figure.text(0.01, 0.015, footnote, fontproperties=_font(_FOOTNOTE_POINTS), color="#555555", va="bottom")
    lines = footnote.count("\n") + 1
    bottom = (lines * _FOOTNOTE_POINTS * 1.35 + 8) / (SIZE_INCHES[1] * 72)
    figure.tight_layout(rect=(0, bottom, 1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _draw_bars(axes: Axes, spec: ChartSpec, labels: tuple[str, ...], lang: Lang) -> None:
    width = (0.8 if len(spec.series) > 1 else 0.6) / len(spec.series)
    for number, series in enumerate(spec.series):
        offset = (number - (len(spec.series) - 1) / 2) * width
        xs = [labels.index(p.label) + offset for p in series.points]
        bars = axes.bar(
            xs,
            [p.value for p in series.points],
            width * 0.92,
            color=COLORS[number % len(COLORS)],
            label=series.name,
        )
        texts = [value_label(p, spec.unit, lang) for p in series.points]
        axes.bar_label(bars, texts, padding=2, fontproperties=_font(8))


def _draw_lines(axes: Axes, spec: ChartSpec, labels: tuple[str, ...], lang: Lang) -> None:
    for number, series in enumerate(spec.series):
        xs = [labels.index(p.label) for p in series.points]
        color = COLORS[number % len(COLORS)]
        axes.plot(xs, [p.value for p in series.points], marker="o", color=color, label=series.name)
        for x, point in zip(xs, series.points, strict=True):
            # Up and to the left: a rising line leaves each point to the upper right, so the label stays clear.
            axes.annotate(
                value_label(point, spec.unit, lang),
                (x, point.value),
                xytext=(-5, 6),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontproperties=_font(8),
                color=color,
            )


def _style_axes(axes: Axes, spec: ChartSpec, labels: tuple[str, ...], lang: Lang) -> None:
    axes.set_title(spec.title, fontproperties=_font(13))
    columns = max(8, 90 // max(len(labels), 1))  # a category's share of the width, in characters
    wrapped = ["\n".join(_wrap(line, columns) for line in label.split("\n")) for label in labels]
    axes.set_xticks(range(len(labels)), wrapped, fontproperties=_font(9))
    axes.set_xlim(-0.6, len(labels) - 0.4)
    scale = (" (对数坐标)" if lang == "zh" else " (log scale)") if spec.log_scale else ""
    axes.set_ylabel(spec.y_label + scale, fontproperties=_font(9))
    values = [p.value for s in spec.series for p in s.points]
    if spec.log_scale:
        axes.set_yscale("log")
        spread = max(values) / min(values)
        axes.set_ylim(min(values) / spread**0.08, max(values) * spread**0.15)
        axes.yaxis.set_minor_locator(
            NullLocator()
        )  # decade gridlines suffice; minor ticks cost a third of a render
    else:
        axes.set_ylim(0, max(values) * 1.18)
    percent = spec.unit == "percent"
    axes.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: format_percent(v) if percent else format_count(v, lang, digits=3))
    )
    axes.tick_params(axis="y", labelsize=8, labelfontfamily=cjk_family())
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    if len(spec.series) > 1:
        axes.legend(prop=_font(8), frameon=False)


def _wrap(text: str, width: int) -> str:
    """Break a line at `width` display columns (CJK characters are two wide), preferring spaces and ;."""
    lines, line, used = [], "", 0
    for char in text:
        wide = 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
        if used + wide > width:
            cut = max(line.rfind(" "), line.rfind(";"), line.rfind(";"))
            head, line = (line[: cut + 1], line[cut + 1 :]) if cut > width // 2 else (line, "")
            lines.append(head.rstrip())
            used = sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in line)
        line += char
        used += wide
    return "\n".join([*lines, line])


def histogram_png(bins: list[tuple[float, float, int]], unit: str, lang: Lang) -> bytes:
    """The crowd's predictions as a histogram over log-spaced bins; no individual value is shown."""
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for low, high, count in bins:
        axes.bar(low, count, width=max(high - low, low * 0.05), align="edge", color=COLORS[0], edgecolor="white")
    if bins and bins[-1][1] > bins[0][0] * 10:
        axes.set_xscale("log")
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _axis_value(v, unit, lang)))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.set_ylabel("人数" if lang == "zh" else "predictors", fontproperties=_font(9))
    axes.set_title("预测分布" if lang == "zh" else "Predictions", fontproperties=_font(12))
    for label in axes.get_xticklabels():
        label.set_fontproperties(_font(8))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _axis_value(value: float, unit: str, lang: Lang) -> str:
    return format_percent(value) if unit == "percent" else format_count(value, lang, digits=3)
