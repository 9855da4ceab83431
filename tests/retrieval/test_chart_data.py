"""Chart topics built from the real corpus, topic words in both languages, and charts of cited facts."""

from __future__ import annotations

import pytest

from knowledge.errors import UserError
from knowledge.facts import Fact, Period
from knowledge.loaders import load_corpus
from retrieval.charts import TOPICS, ChartSpec, Point, Series, chart_for_facts, chart_spec, find_topic


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def names(corpus):
    return {e.id: (e.name_zh, e.name_en) for e in corpus.entities}


def fact(metric, entity, period, value, unit="tokens", qualifier="exact", report="R", published="2025-09"):
    return Fact(metric, entity, Period.parse(period), value, qualifier, unit, report, published, "src", "quote")


def values(spec):
    return [p.value for s in spec.series for p in s.points]


@pytest.mark.parametrize(
    ("topic", "count", "kind", "unit", "log"),
    [
        ("idc_totals", 2, "bar", "tokens", False),
        ("shares", 4, "bar", "percent", False),
        ("google", 5, "line", "tokens", True),
        ("doubao", 5, "line", "tokens", True),
        ("national", 4, "line", "tokens", True),
    ],
)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_topic_builds_from_the_corpus(corpus, names, topic, count, kind, unit, log, lang):
    spec = chart_spec(topic, corpus.facts, names, lang)
    assert spec.topic == topic
    assert sum(len(s.points) for s in spec.series) == count
    assert (spec.kind, spec.unit, spec.log_scale) == (kind, unit, log)
    assert spec.title == TOPICS[topic][0 if lang == "zh" else 1]
    assert spec.source and spec.y_label


def test_topics_are_ordered_and_titled_in_both_languages():
    assert list(TOPICS) == ["idc_totals", "shares", "google", "doubao", "national"]
    for zh, en in TOPICS.values():
        assert any("\u4e00" <= c <= "\u9fff" for c in zh)
        assert en.isascii()


def test_doubao_points_follow_period_order_and_span_1200yi_to_50_trillion(corpus, names):
    spec = chart_spec("doubao", corpus.facts, names, "zh")
    (series,) = spec.series
    assert series.name == "豆包大模型"
    assert [p.label for p in series.points] == [
        "2024 年 5 月",
        "2024 年 9 月",
        "2025 年 5 月",
        "2025 年 9 月",
        "2025 年 12 月",
    ]
    assert series.points[0].value == 1200e8
    assert series.points[-1] == Point("2025 年 12 月", 50e12, "at_least")
    assert spec.log_scale


def test_english_labels_use_english_periods(corpus, names):
    spec = chart_spec("google", corpus.facts, names, "en")
    assert [p.label for p in spec.series[0].points][:2] == ["May 2024", "May 2025"]
    assert spec.series[0].name == "Google"


def test_shares_are_grouped_by_vendor_leader_first_without_log_scale(corpus, names):
    spec = chart_spec("shares", corpus.facts, names, "en")
    assert [s.name for s in spec.series] == ["Volcano Engine", "Alibaba Cloud", "Baidu AI Cloud"]
    assert spec.labels == ("2024", "H1 2025")
    assert [p.value for p in spec.series[0].points] == [46.4, 49.2]
    assert not spec.log_scale


def test_source_lists_each_report_once_with_its_dates(corpus, names):
    spec = chart_spec("national", corpus.facts, names, "en")
    assert spec.source == "国家数据局 (2025-08-14, 2026-03)"
    idc = chart_spec("idc_totals", corpus.facts, names, "zh").source
    assert "1Q25 (2025-03)" in idc and "2025H1 (2025-09)" in idc


def test_a_newly_merged_figure_appears_in_the_chart(corpus, names):
    newer = corpus.facts.merged([fact("daily_tokens", "doubao", "2026-03", 80e12, published="2026-04")])
    spec = chart_spec("doubao", newer, names, "en")
    assert spec.series[0].points[-1] == Point("March 2026", 80e12, "exact")
    assert "R (2026-04)" in spec.source


def test_a_new_vendor_share_adds_a_series(corpus, names):
    newer = corpus.facts.merged([fact("maas_share", "google", "2025H1", 1.5, unit="percent")])
    spec = chart_spec("shares", newer, names, "zh")
    assert [s.name for s in spec.series][-1] == "谷歌"


@pytest.mark.parametrize("topic", ["pie", "", "google2"])
def test_unknown_topic_lists_the_topics_in_both_languages(corpus, names, topic):
    with pytest.raises(UserError) as caught:
        chart_spec(topic, corpus.facts, names, "en")
    message = caught.value.message
    assert "未知" in message and "Unknown chart topic" in message
    for known, (zh, en) in TOPICS.items():
        assert known in message and zh in message and en in message


def test_a_topic_without_figures_is_a_user_error(names):
    from knowledge.facts import FactsTable

    with pytest.raises(UserError, match="No figures yet"):
        chart_spec("google", FactsTable(), names, "en")


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("google", "google"),
        ("谷歌", "google"),
        ("Google monthly tokens", "google"),
        ("谷歌每月处理多少 token", "google"),
        ("Alphabet", "google"),
        ("豆包", "doubao"),
        ("doubao", "doubao"),
        ("豆包日均调用量", "doubao"),
        ("Doubao daily", "doubao"),
        ("份额", "shares"),
        ("share", "shares"),
        ("market shares", "shares"),
        ("IDC 市场份额", "shares"),
        ("火山引擎占比", "shares"),
        ("全国", "national"),
        ("national", "national"),
        ("全国日均 token", "national"),
        ("国家数据局", "national"),
        ("China nationwide", "national"),
        ("idc", "idc_totals"),
        ("IDC", "idc_totals"),
        ("总量", "idc_totals"),
        ("total", "idc_totals"),
        ("公有云", "idc_totals"),
        ("public cloud tokens", "idc_totals"),
        ("idc_totals", "idc_totals"),
        ("  Shares ", "shares"),
        ("天气", None),
        ("weather", None),
        ("calendar", None),
        ("", None),
    ],
)
def test_find_topic(text, topic):
    assert find_topic(text) == topic


def test_chart_for_facts_compares_the_cited_figures(names):
    cited = [
        fact("maas_tokens", "china_public_cloud", "2025H1", 536.7e12),
        fact("maas_tokens", "china_public_cloud", "2024", 114.2e12),
    ]
    spec = chart_for_facts(cited, names, "zh")
    assert spec is not None
    assert spec.kind == "bar" and spec.unit == "tokens" and not spec.log_scale
    assert [p.label for p in spec.series[0].points] == ["2024 年", "2025 年上半年"]


def test_chart_for_facts_labels_entities_when_the_period_is_shared(names):
    cited = [
        fact("maas_share", e, "2025H1", v, unit="percent")
        for e, v in [("volcano_engine", 49.2), ("alibaba_cloud", 27)]
    ]
    spec = chart_for_facts(cited, names, "en")
    assert spec is not None and spec.unit == "percent"
    assert {p.label for p in spec.series[0].points} == {"Volcano Engine", "Alibaba Cloud"}


def test_chart_for_facts_uses_log_scale_across_wide_ranges(names):
    cited = [
        fact("daily_tokens", "doubao", "2024-05", 1200e8),
        fact("monthly_tokens", "google", "2026-05", 3.2e15),
    ]
    spec = chart_for_facts(cited, names, "en")
    assert spec is not None and spec.log_scale
    assert all("\n" in p.label for p in spec.series[0].points)


@pytest.mark.parametrize(
    "cited",
    [
        [],
        [fact("maas_tokens", "china_public_cloud", "2024", 114.2e12)],
        [fact("maas_tokens", "china_public_cloud", "2024", 114.2e12)] * 2,
        [
            fact("maas_tokens", "china_public_cloud", "2024", 114.2e12),
            fact("maas_share", "volcano_engine", "2024", 46.4, unit="percent"),
        ],
    ],
    ids=["none", "one", "one-twice", "mixed-units"],
)
def test_chart_for_facts_needs_two_figures_of_one_unit(names, cited):
    assert chart_for_facts(cited, names, "zh") is None


def test_labels_merge_series_in_period_order():
    spec = ChartSpec(
        "x",
        "t",
        (
            Series("a", (Point("2025", 1, "exact"),)),
            Series("b", (Point("2024", 1, "exact"), Point("2025", 2, "exact"))),
        ),
        "tokens",
        False,
        "bar",
        "",
        "",
    )
    assert spec.labels == ("2024", "2025")
