"""Charts render to real PNGs with every glyph present, in both languages."""

from __future__ import annotations

import io
import logging
import warnings

import pytest
from matplotlib.image import imread

from bot.charts import DPI, SIZE_INCHES, render_png, value_label
from knowledge.loaders import load_corpus
from retrieval.charts import TOPICS, ChartSpec, Point, Series, chart_spec

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def names(corpus):
    return {e.id: (e.name_zh, e.name_en) for e in corpus.entities}


def render_cleanly(spec, lang, caplog):
    """Render, failing on any missing-glyph warning or font-manager complaint."""
    caplog.set_level(logging.WARNING, logger="matplotlib")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = render_png(spec, lang)
    glyphs = [
        str(w.message) for w in caught if "glyph" in str(w.message).lower() or "font" in str(w.message).lower()
    ]
    assert glyphs == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("matplotlib")] == []
    return data


def decode(data):
    assert data.startswith(PNG_SIGNATURE)
    return imread(io.BytesIO(data), format="png")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("topic", list(TOPICS))
def test_every_topic_renders_a_png_without_missing_glyphs(corpus, names, caplog, topic, lang):
    image = decode(render_cleanly(chart_spec(topic, corpus.facts, names, lang), lang, caplog))
    height, width = image.shape[:2]
    assert (width, height) == (round(SIZE_INCHES[0] * DPI), round(SIZE_INCHES[1] * DPI))
    assert image.std() > 0.05  # something was drawn, not a blank page


def test_a_title_full_of_chinese_renders_without_warnings(caplog):
    spec = ChartSpec(
        topic="answer",
        title="豆包大模型日均调用量突破五十万亿,火山引擎份额第一;阿里云、百度智能云紧随其后",
        series=(
            Series("火山引擎", (Point("2024 年", 46.4, "exact"), Point("2025 年上半年", 49.2, "at_least"))),
            Series("阿里云", (Point("2025 年上半年", 27.0, "about"),)),
        ),
        unit="percent",
        log_scale=False,
        kind="bar",
        source="IDC 中国大模型公有云服务市场分析 2025H1 (2025-09);国家数据局",
        y_label="市场份额",
    )
    decode(render_cleanly(spec, "zh", caplog))


def test_a_long_source_wraps_and_still_renders(caplog):
    points = tuple(Point(f"第{i}期", 10.0**i, "at_least") for i in range(1, 7))
    spec = ChartSpec(
        "answer", "长来源", (Series("", points),), "tokens", True, "line", "某报告 (2025-09);" * 30, "Tokens"
    )
    decode(render_cleanly(spec, "zh", caplog))


@pytest.mark.parametrize(
    ("point", "unit", "lang", "text"),
    [
        (Point("", 50e12, "at_least"), "tokens", "zh", "超过 50 万亿"),
        (Point("", 1.3e15, "at_least"), "tokens", "en", "≥ 1.3 quadrillion"),
        (Point("", 1200e8, "exact"), "tokens", "zh", "1,200 亿"),
        (Point("", 536.7e12, "exact"), "tokens", "en", "536.7 trillion"),
        (Point("", 49.2, "exact"), "percent", "zh", "49.2%"),
        (Point("", 27.0, "about"), "percent", "en", "~27%"),
    ],
)
def test_value_labels_are_formatted_by_units(point, unit, lang, text):
    assert value_label(point, unit, lang) == text
