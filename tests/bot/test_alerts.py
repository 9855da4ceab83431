"""Data alerts: topics, grouping, keys, and the wording of what changed, against the shipped corpus."""

import math

import pytest

from bot.alerts import DataAlert, alert_key, alert_text, data_alerts, parse_topic, topic_label, topics_for
from knowledge.catalog import load_metrics
from knowledge.errors import UserError
from knowledge.facts import Fact, Period
from knowledge.ingest import Revision, diff
from knowledge.loaders import default_corpus_dir, load_corpus
from knowledge.units import find_quantities

CORPUS = load_corpus()
METRICS = load_metrics(default_corpus_dir())
NAMES = {e.id: (e.name_zh, e.name_en) for e in CORPUS.entities}


def fact(metric, entity, period, value, qualifier="exact", unit="tokens"):
    report = "IDC 中国大模型公有云服务市场分析 2025" if metric.startswith("maas") else "Volcano Engine FORCE 2026"
    return Fact(
        metric, entity, Period.parse(period), value, qualifier, unit, report, "2026-03", "example.com/1", ""
    )


def held(metric, entity, period):
    return CORPUS.facts.get(metric, entity, period)


YEAR_2025 = fact("maas_tokens", "china_public_cloud", "2025", 1300e12)
H1_REVISED = fact("maas_tokens", "china_public_cloud", "2025H1", 540e12)
VOLCANO_H2 = fact("maas_share", "volcano_engine", "2025H2", 51.0, unit="percent")
DOUBAO_MARCH = fact("daily_tokens", "doubao", "2026-03", 60e12)
AGENT_CALLS = fact("agent_calls", "doubao", "2026-03", 5e9)

# (case, new facts, (before, after) revisions, lang, phrases the alert must contain)
CASES = [
    (
        "year_total",
        [YEAR_2025],
        [],
        "zh",
        [
            "新数据 · 大模型公有云 Tokens 调用量 · 中国大模型公有云市场",
            "2025 年:1,300 万亿",
            "为 2024 年(114.2 万亿)的 11.38×,增长 1,038.4%",
            "据此 2025 年下半年约 763.3 万亿(1,300 万亿 − 536.7 万亿)",
            "1,300 万亿 ÷ 114.2 万亿 ≈ 11.38×",
            "1,300 万亿 − 536.7 万亿 = 763.3 万亿",
            "来源:IDC 中国大模型公有云服务市场分析 2025(2026-03);example.com/1",
        ],
    ),
    (
        "year_total",
        [YEAR_2025],
        [],
        "en",
        [
            "New data · LLM public-cloud (MaaS) tokens",
            "2025: 1.3 quadrillion",
            "11.38× the 2024 figure (114.2 trillion), up 1,038.4%",
            "So H2 2025 was about 763.3 trillion (1.3 quadrillion − 536.7 trillion)",
            "1.3 quadrillion ÷ 114.2 trillion ≈ 11.38×",
            "Source: IDC 中国大模型公有云服务市场分析 2025 (2026-03); example.com/1",
        ],
    ),
    (
        "revised_half",
        [],
        [(held("maas_tokens", "china_public_cloud", "2025H1"), H1_REVISED)],
        "zh",
        ["数据修订", "2025 年上半年 修订:由 536.7 万亿 改为 540 万亿(+0.61%)", "540 万亿 ÷ 536.7 万亿"],
    ),
    (
        "revised_half",
        [],
        [(held("maas_tokens", "china_public_cloud", "2025H1"), H1_REVISED)],
        "en",
        ["Revised data", "H1 2025 — Revised: from 536.7 trillion to 540 trillion (+0.61%)"],
    ),
    (
        "share",
        [VOLCANO_H2],
        [],
        "zh",
        ["火山引擎", "2025 年下半年:51%", "较 2025 年上半年的 49.2% 上升 1.8 个百分点", "排第 1", "51% − 49.2%"],
    ),
    (
        "share",
        [VOLCANO_H2],
        [],
        "en",
        ["Volcano Engine", "H2 2025: 51%", "Up 1.8 percentage points from 49.2% in H1 2025", "(rank 1)"],
    ),
    (
        "daily_after_lower_bound",
        [DOUBAO_MARCH],
        [],
        "zh",
        [
            "为 2025 年 12 月(超过 50 万亿)的 1.20×,增长 20%",
            "是下限",
            "倍数和增幅是上限",
            "60 万亿 ÷ 50 万亿 ≈ 1.20×",
        ],
    ),
    (
        "daily_after_lower_bound",
        [DOUBAO_MARCH],
        [],
        "en",
        ["1.20× the December 2025 figure (more than 50 trillion), up 20%", "is a lower bound", "an upper bound"],
    ),
    ("first_of_its_kind", [AGENT_CALLS], [], "zh", ["2026 年 3 月:50 亿", "第一个"]),
    ("first_of_its_kind", [AGENT_CALLS], [], "en", ["March 2026: 5 billion", "first figure of its kind"]),
]


def render(new, revised, lang):
    facts = CORPUS.facts.merged([*new, *(after for _, after in revised)])
    alerts = data_alerts(new, revised)
    assert len(alerts) == 1
    return alert_text(alerts[0], facts, METRICS, NAMES, lang), facts


@pytest.mark.parametrize(
    ("case", "new", "revised", "lang", "phrases"), CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES]
)
def test_alert_text_says_what_changed_and_what_it_means(case, new, revised, lang, phrases):
    text, _ = render(new, revised, lang)
    for phrase in phrases:
        assert phrase in text


@pytest.mark.parametrize(
    ("case", "new", "revised", "lang", "phrases"), CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES]
)
def test_every_number_is_a_fact_or_a_shown_computation(case, new, revised, lang, phrases):
    text, facts = render(new, revised, lang)
    _, _, block = text.partition("\n\n")
    _cited, _, rest = block.partition("\n")  # the first line cites the figure itself
    body, _, arithmetic = rest.partition("计算:" if lang == "zh" else "Arithmetic:")
    arithmetic, _, _source = arithmetic.rpartition("\n")
    shown = [f.quantity.value for f in find_quantities(arithmetic)]
    allowed = [f.value for f in facts] + shown
    for found in find_quantities(body):
        if found.quantity.kind == "count" and found.quantity.value < 1000:
            continue  # a rank or a number of vendors
        assert any(math.isclose(found.quantity.value, v, rel_tol=1e-9) for v in allowed), found.quantity.text


@pytest.mark.parametrize(
    ("new", "lang", "phrase"),
    [
        (
            fact("daily_tokens", "doubao", "2025-07", 20e12, "at_least"),
            "zh",
            "注意:2025 年 7 月的数字(超过 20 万亿)是下限,所以上面的倍数和增幅是下限。",
        ),
        (
            fact("daily_tokens", "doubao", "2025-07", 20e12, "at_least"),
            "en",
            "the July 2025 figure (more than 20 trillion) is a lower bound, so read the multiple and growth above as a lower bound",
        ),
        (fact("daily_tokens", "doubao", "2026-03", 60e12, "at_least"), "zh", "两个数字都是下限"),
        (fact("daily_tokens", "doubao", "2026-03", 60e12, "at_least"), "en", "both figures are lower bounds"),
    ],
)
def test_lower_bounds_are_flagged_with_the_direction_they_push(new, lang, phrase):
    text, _ = render([new], [], lang)
    assert phrase in text


@pytest.mark.parametrize(
    ("lang", "phrase"),
    [("zh", "据此 2024 年下半年约 74.2 万亿(114.2 万亿 − 40 万亿)"), ("en", "So H2 2024 was about 74.2 trillion")],
)
def test_a_new_half_inside_a_known_year_implies_the_other_half(lang, phrase):
    text, _ = render([fact("maas_tokens", "china_public_cloud", "2024H1", 40e12)], [], lang)
    assert phrase in text


@pytest.mark.parametrize(
    ("lang", "phrase"),
    [("zh", "在 2025 年下半年已有份额数据的 3 家厂商中排第 2"), ("en", "It ranks 2 of the 3 vendors")],
)
def test_share_rank_counts_the_shares_of_that_period(lang, phrase):
    others = [
        fact("maas_share", "volcano_engine", "2025H2", 51.0, unit="percent"),
        fact("maas_share", "baidu_ai_cloud", "2025H2", 15.0, unit="percent"),
    ]
    alibaba = fact("maas_share", "alibaba_cloud", "2025H2", 26.0, unit="percent")
    facts = CORPUS.facts.merged([*others, alibaba])
    text = alert_text(data_alerts([alibaba], [])[0], facts, METRICS, NAMES, lang)
    assert phrase in text
    assert ("下降 1 个百分点" if lang == "zh" else "Down 1 percentage point") in text


@pytest.mark.parametrize(
    ("words", "topic"),
    [
        ("", "all"),
        ("all", "all"),
        ("全部", "all"),
        (" ALL ", "all"),
        ("news", "news"),
        ("新闻", "news"),
        ("maas_tokens", "metric:maas_tokens"),
        ("MaaS tokens", "metric:maas_tokens"),
        ("大模型公有云 Tokens 调用量", "metric:maas_tokens"),
        ("大模型公有云Tokens调用量", "metric:maas_tokens"),
        ("公有云调用量", "metric:maas_tokens"),
        ("份额", "metric:maas_share"),
        ("market share", "metric:maas_share"),
        ("日均调用量", "metric:daily_tokens"),
        ("tokens per month", "metric:monthly_tokens"),
        ("metric:daily_tokens", "metric:daily_tokens"),
        ("volcano_engine", "entity:volcano_engine"),
        ("火山引擎", "entity:volcano_engine"),
        ("火山", "entity:volcano_engine"),
        ("Volcengine", "entity:volcano_engine"),
        ("阿里云", "entity:alibaba_cloud"),
        ("豆包", "entity:doubao"),
        ("Google", "entity:google"),
        ("国家数据局口径", "entity:china"),
        ("entity:doubao", "entity:doubao"),
        ("主体:豆包", "entity:doubao"),
        ("ＡＬＩＹＵＮ", "entity:alibaba_cloud"),
    ],
)
def test_parse_topic_reads_ids_names_and_aliases(words, topic):
    assert parse_topic(words, METRICS, CORPUS.entities) == topic


@pytest.mark.parametrize("words", ["腾讯云", "weather", "metric:volcano_engine", "entity:maas_tokens", "all news"])
def test_parse_topic_refuses_unknown_topics_listing_the_choices(words):
    with pytest.raises(UserError) as error:
        parse_topic(words, METRICS, CORPUS.entities)
    message = error.value.message
    for choice in (
        "不认识的主题",
        "Unknown topic",
        "all / 全部",
        "news / 新闻",
        "maas_tokens",
        "火山引擎",
        "Volcano Engine",
    ):
        assert choice in message


@pytest.mark.parametrize(
    ("topic", "lang", "label"),
    [
        ("all", "zh", "全部"),
        ("all", "en", "everything"),
        ("news", "zh", "新闻"),
        ("news", "en", "news"),
        ("metric:maas_tokens", "zh", "指标:大模型公有云 Tokens 调用量"),
        ("metric:maas_share", "en", "metric: MaaS market share"),
        ("entity:volcano_engine", "zh", "主体:火山引擎"),
        ("entity:volcano_engine", "en", "entity: Volcano Engine"),
        ("metric:agent_calls", "zh", "指标:agent_calls"),
        ("entity:unknown_co", "en", "entity: unknown_co"),
    ],
)
def test_topic_label(topic, lang, label):
    assert topic_label(topic, METRICS, NAMES, lang) == label


def test_topics_for_a_fact():
    assert topics_for(VOLCANO_H2) == ("all", "metric:maas_share", "entity:volcano_engine")


def test_data_alerts_group_one_ingest_by_metric_and_entity():
    shares = [
        VOLCANO_H2,
        fact("maas_share", "alibaba_cloud", "2025H2", 26.0, unit="percent"),
    ]
    revision = Revision(held("maas_tokens", "china_public_cloud", "2025H1"), H1_REVISED)
    alerts = data_alerts([YEAR_2025, *shares], [revision])
    by_topics = {a.topics: a for a in alerts}
    assert set(by_topics) == {
        ("all", "metric:maas_tokens", "entity:china_public_cloud"),
        ("all", "metric:maas_share", "entity:alibaba_cloud"),
        ("all", "metric:maas_share", "entity:volcano_engine"),
    }
    totals = by_topics[("all", "metric:maas_tokens", "entity:china_public_cloud")]
    assert totals.facts == (H1_REVISED, YEAR_2025)  # in period order
    assert totals.revised_from == (revision.before, None)
    volcano = [a for a in alerts if "entity:volcano_engine" in a.topics]
    assert [a.facts for a in volcano] == [(VOLCANO_H2,)]
    assert all(isinstance(a, DataAlert) for a in alerts)


def test_data_alerts_take_revisions_as_pairs_or_revision_objects():
    before = held("maas_tokens", "china_public_cloud", "2025H1")
    assert data_alerts([], [(before, H1_REVISED)]) == data_alerts([], [Revision(before, H1_REVISED)])


def test_identical_data_ingested_twice_gives_no_alerts():
    new, revised, unchanged = diff(CORPUS.facts, list(CORPUS.facts))
    assert (new, revised, len(unchanged)) == ([], [], len(CORPUS.facts))
    assert data_alerts(new, revised) == []


def test_alert_key_is_stable_and_order_independent():
    before = held("maas_tokens", "china_public_cloud", "2025H1")
    changes = [(None, YEAR_2025), (before, H1_REVISED), (None, VOLCANO_H2)]
    key = alert_key(changes)
    assert key == alert_key(list(reversed(changes)))
    assert key == alert_key([(None, fact("maas_tokens", "china_public_cloud", "2025", 1300e12)), *changes[1:]])
    assert len(key) == 16 and int(key, 16) >= 0


@pytest.mark.parametrize(
    "other",
    [
        [(None, YEAR_2025)],  # fewer changes
        [(None, fact("maas_tokens", "china_public_cloud", "2025", 1301e12)), (None, VOLCANO_H2)],  # value
        [(None, fact("maas_tokens", "china_public_cloud", "2025", 1300e12, "at_least")), (None, VOLCANO_H2)],
        [(held("maas_tokens", "china_public_cloud", "2024"), YEAR_2025), (None, VOLCANO_H2)],  # a revision
    ],
)
def test_alert_key_changes_with_what_changed(other):
    assert alert_key([(None, YEAR_2025), (None, VOLCANO_H2)]) != alert_key(other)


def test_the_same_ingest_re_derived_gives_the_same_alert_keys():
    first = data_alerts(
        [YEAR_2025, VOLCANO_H2], [(held("maas_tokens", "china_public_cloud", "2025H1"), H1_REVISED)]
    )
    again = data_alerts(
        [VOLCANO_H2, YEAR_2025], [(held("maas_tokens", "china_public_cloud", "2025H1"), H1_REVISED)]
    )
    assert [a.key for a in first] == [a.key for a in again]
    assert len({a.key for a in first}) == len(first)
