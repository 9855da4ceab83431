"""Prediction polls, the pure part: /newpoll and /predict parsing, ranges, scoring, ranking and texts."""

import math
from datetime import date, datetime, timedelta

import pytest

from bot import polls
from bot.polls import Entry, PollSpec
from knowledge.catalog import load_metrics
from knowledge.errors import UserError
from knowledge.facts import Period
from knowledge.loaders import default_corpus_dir, load_corpus
from knowledge.units import parse_quantity

TODAY = date(2025, 10, 1)
T0 = datetime(2025, 10, 1, 12, 0)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def metrics():
    return load_metrics(default_corpus_dir())


def newpoll(args, corpus, metrics):
    return polls.parse_newpoll(args, corpus.facts, metrics, corpus.entities, TODAY)


# ---- /newpoll --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "metric", "entity", "period", "closes"),
    [
        (["maas_tokens", "2025"], "maas_tokens", "china_public_cloud", "2025", None),
        (["maas_tokens", "2025", "2026-03-31"], "maas_tokens", "china_public_cloud", "2025", date(2026, 3, 31)),
        (["2026-03-31", "2025", "maas_tokens"], "maas_tokens", "china_public_cloud", "2025", date(2026, 3, 31)),
        (["公有云调用量", "2025年"], "maas_tokens", "china_public_cloud", "2025", None),
        (["maas", "tokens", "2025", "全年"], "maas_tokens", "china_public_cloud", "2025", None),
        (
            ["大模型公有云", "Tokens", "调用量", "2025年下半年"],
            "maas_tokens",
            "china_public_cloud",
            "2025H2",
            None,
        ),
        (["中国公有云调用量", "2025"], "maas_tokens", "china_public_cloud", "2025", None),
        (["maas_tokens", "2025年第四季度"], "maas_tokens", "china_public_cloud", "2025Q4", None),
        (["maas_tokens", "2025-12"], "maas_tokens", "china_public_cloud", "2025-12", None),
        (["maas_tokens", "2025年12月"], "maas_tokens", "china_public_cloud", "2025-12", None),
        (["maas_tokens", "2025", "2026年3月31日"], "maas_tokens", "china_public_cloud", "2025", date(2026, 3, 31)),
        (["ＭＡＡＳ_tokens", "２０２５"], "maas_tokens", "china_public_cloud", "2025", None),
        (["份额", "火山引擎", "2025"], "maas_share", "volcano_engine", "2025", None),
        (["maas_share", "2025H2", "阿里云"], "maas_share", "alibaba_cloud", "2025H2", None),
        (["市场份额", "百度", "2025"], "maas_share", "baidu_ai_cloud", "2025", None),
        (["market", "share", "Volcano", "Engine", "H2", "2025"], "maas_share", "volcano_engine", "2025H2", None),
    ],
)
def test_newpoll_reads_metric_entity_period_and_close_date(corpus, metrics, args, metric, entity, period, closes):
    assert newpoll(args, corpus, metrics) == PollSpec(metric, entity, Period.parse(period), closes)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["foo", "2025"], "foo"),
        (["2025"], "missing metric"),
        (["maas_tokens"], "missing period"),
        (["maas_tokens", "2025H3"], "2025H3"),
        (["maas_tokens", "2025", "2025-09-30"], "after today"),
        (["maas_tokens", "2025", "2025-10-01"], "after today"),
        (["maas_tokens", "2025", "2026-02-30"], "not a real date"),
        (["maas_share", "2025"], "needs an entity"),
        (["份额", "2025"], "需要指定实体"),
        (["maas_tokens", "2024"], "already known"),
        (["maas_tokens", "2025", "2026"], "only one period"),
        (["maas_tokens", "份额", "2025"], "only one metric"),
        (["maas_share", "火山引擎", "阿里云", "2025"], "only one entity"),
        (["maas_tokens", "火山引擎", "2025"], "has no maas_tokens figures"),
    ],
)
def test_newpoll_refuses_with_the_problem_and_the_usage(corpus, metrics, args, says):
    with pytest.raises(UserError) as error:
        newpoll(args, corpus, metrics)
    assert says in error.value.message
    assert "/newpoll" in error.value.message


def test_newpoll_lists_every_problem_at_once(corpus, metrics):
    with pytest.raises(UserError) as error:
        newpoll(["foo", "2024-01-01"], corpus, metrics)
    message = error.value.message
    assert "foo" in message and "missing metric" in message and "missing period" in message
    assert "after today" in message


# ---- wording ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("metric", "entity", "period", "lang", "question"),
    [
        ("maas_tokens", "china_public_cloud", "2025", "zh", "IDC:中国大模型公有云 Tokens 调用量,2025 年全年?"),
        (
            "maas_tokens",
            "china_public_cloud",
            "2025",
            "en",
            "IDC: China LLM public-cloud (MaaS) tokens, full year 2025?",
        ),
        ("maas_share", "volcano_engine", "2025H2", "zh", "IDC:火山引擎大模型公有云市场份额,2025 年下半年?"),
        ("maas_share", "volcano_engine", "2025H2", "en", "IDC: Volcano Engine MaaS market share, H2 2025?"),
    ],
)
def test_poll_question_names_the_figure(corpus, metrics, metric, entity, period, lang, question):
    spec = PollSpec(metric, entity, Period.parse(period), None)
    name = polls.subject_name(spec, corpus.facts, corpus.entities, lang)
    assert polls.poll_question(spec, metrics[metric], name, lang) == question


@pytest.mark.parametrize(
    ("metric", "entity", "lang", "lines"),
    [
        ("maas_tokens", "china_public_cloud", "zh", ["2024 年:114.2 万亿", "2025 年上半年:536.7 万亿"]),
        ("maas_tokens", "china_public_cloud", "en", ["2024: 114.2 trillion", "H1 2025: 536.7 trillion"]),
        ("maas_share", "volcano_engine", "zh", ["2024 年:46.4%", "2025 年上半年:49.2%"]),
        ("maas_share", "volcano_engine", "en", ["2024: 46.4%", "H1 2025: 49.2%"]),
    ],
)
def test_history_lines_list_known_figures_oldest_first(corpus, metric, entity, lang, lines):
    assert polls.history_lines(corpus.facts, metric, entity, lang) == lines


# ---- /predict --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "1500万亿",
        "1.5千万亿",
        "1.5 quadrillion",
        "1500T",
        "1.5e15",
        "一千五百万亿",
        "1,500万亿",
        "１５００万亿",
        "1.5 千万亿",
        "1500 trillion",
        "about 1500T",
        "约 1500 万亿",
        "1500万亿左右",
        "1500万亿 tokens",
        "1.5×10¹⁵",
        "1,500 万亿",
        "1500 Trillion",
    ],
)
def test_prediction_reads_every_form_of_1_5_quadrillion(text):
    assert polls.parse_prediction(text, "tokens") == pytest.approx(1.5e15)


@pytest.mark.parametrize(
    ("text", "value"), [("45%", 45.0), ("45", 45.0), ("百分之四十五", 45.0), ("49.2 %", 49.2)]
)
def test_share_prediction_reads_a_percentage(text, value):
    assert polls.parse_prediction(text, "percent") == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "unit", "says"),
    [
        ("abc", "tokens", "could not read"),
        ("", "tokens", "could not read"),
        ("1500万亿 or 2000万亿", "tokens", "could not read"),
        ("0", "tokens", "above zero"),
        ("-5万亿", "tokens", "above zero"),
        ("0%", "percent", "above zero"),
        ("45%", "tokens", "is a count"),
        ("4.7倍", "tokens", "is a count"),
        ("1500万亿", "percent", "percentage"),
        ("1e30", "tokens", "implausibly large"),
        ("1500", "tokens", "implausibly small"),
        ("120%", "percent", "implausibly large"),
    ],
)
def test_prediction_refusals_quote_the_input(text, unit, says):
    with pytest.raises(UserError) as error:
        polls.parse_prediction(text, unit)
    assert says in error.value.message
    assert f"「{text}」" in error.value.message


@pytest.mark.parametrize(
    ("lang", "unit", "value", "expected"),
    [
        ("zh", "tokens", 1.5e15, "已记录 #3:1,500 万亿(1.5 quadrillion)"),
        ("en", "tokens", 1.5e15, "Recorded #3: 1.5 quadrillion (1,500 万亿)"),
        ("zh", "percent", 49.2, "已记录 #3:49.2%"),
        ("en", "percent", 49.2, "Recorded #3: 49.2%"),
    ],
)
def test_confirmation_shows_both_unit_systems(lang, unit, value, expected):
    assert polls.confirmation(3, value, unit, lang) == expected


# ---- native poll ranges ----------------------------------------------------------------------------------
def is_nice(x):
    mantissa = x / 10 ** math.floor(math.log10(x))
    return round(mantissa, 1) == mantissa  # at most two significant digits


@pytest.mark.parametrize("n", [4, 5, 6])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_native_ranges_for_2025_tokens_are_contiguous_nice_and_open(corpus, n, lang):
    history = corpus.facts.series("maas_tokens", "china_public_cloud")
    ranges = polls.native_ranges(history, Period.of_year(2025), "tokens", n)
    assert len(ranges) == n
    assert ranges[0][0] is None and ranges[-1][1] is None
    edges = [high for _, high in ranges[:-1]]
    assert [low for low, _ in ranges[1:]] == edges
    assert edges == sorted(set(edges)) and all(is_nice(e) for e in edges)
    assert edges[0] < 2 * 536.7e12 < edges[-1]  # centred on twice the first half
    labels = [polls.range_label(low, high, "tokens", lang) for low, high in ranges]
    assert all(len(label) <= 100 for label in labels) and len(set(labels)) == n
    # every label reads back as numbers through knowledge.units
    assert parse_quantity(labels[0].removeprefix("< ")).value == pytest.approx(edges[0])


def test_native_ranges_for_a_share_stay_near_the_last_share_and_inside_100(corpus):
    history = corpus.facts.series("maas_share", "volcano_engine")
    ranges = polls.native_ranges(history, Period.of_year(2025), "percent")
    edges = [high for _, high in ranges[:-1]]
    assert 4 <= len(ranges) <= 6 and edges == sorted(set(edges))
    assert all(0 < e < 100 for e in edges) and edges[0] < 49.2 < edges[-1]


def test_native_ranges_need_some_history():
    with pytest.raises(UserError):
        polls.native_ranges([], Period.of_year(2025), "tokens")


@pytest.mark.parametrize(
    ("low", "high", "unit", "lang", "label"),
    [
        (None, 8e14, "tokens", "zh", "< 800 万亿"),
        (8e14, 1.2e15, "tokens", "zh", "800–1,200 万亿"),
        (2e15, None, "tokens", "zh", "> 2,000 万亿"),
        (None, 8e14, "tokens", "en", "< 800 trillion"),
        (1.2e15, 2e15, "tokens", "en", "1.2–2 quadrillion"),
        (8e14, 1.2e15, "tokens", "en", "800 trillion – 1.2 quadrillion"),
        (2e15, None, "tokens", "en", "> 2 quadrillion"),
        (40.0, 46.0, "percent", "zh", "40–46%"),
        (None, 40.0, "percent", "en", "< 40%"),
    ],
)
def test_range_labels(low, high, unit, lang, label):
    assert polls.range_label(low, high, unit, lang) == label


# ---- scoring ---------------------------------------------------------------------------------------------
A = 1.2e15


@pytest.mark.parametrize(
    ("prediction", "low", "high", "expected"),
    [
        (A, None, None, 0.0),
        (2 * A, None, None, math.log(2)),
        (A / 2, None, None, math.log(2)),
        (None, 8e14, 1.5e15, 0.0),  # inside
        (None, A, 1.5e15, 0.0),  # the low edge is inside
        (None, 8e14, A, 0.0),  # on the excluded high edge the distance is still zero
        (None, 1.5e15, 2e15, math.log(1.5e15 / A)),  # the range is above the actual
        (None, 4e14, 6e14, math.log(A / 6e14)),  # the range is below the actual
        (None, None, 8e14, math.log(A / 8e14)),  # open below
        (None, None, 2e15, 0.0),
        (None, 2e15, None, math.log(2e15 / A)),  # open above
        (None, 1e15, None, 0.0),
    ],
)
def test_score_is_the_log_error(prediction, low, high, expected):
    assert polls.score(prediction, low, high, A) == pytest.approx(expected)


def entry(user_id, value=None, low=None, high=None, minutes=0, name=None):
    return Entry(user_id, name or f"user{user_id}", value, low, high, T0 + timedelta(minutes=minutes))


def test_resolve_ranks_by_score_then_time_then_user_id():
    entries = [
        entry(5, value=2 * A, minutes=1),
        entry(4, value=A / 2, minutes=0),  # same score as 5, earlier
        entry(3, value=1.1 * A, minutes=9),
        entry(2, low=1e15, high=1.5e15, minutes=5),  # inside: 0
        entry(1, low=1e15, high=1.5e15, minutes=5),  # same score and time as 2: lower id first
    ]
    results = polls.resolve(entries, A)
    assert [s.entry.user_id for s in results.ranking] == [1, 2, 3, 4, 5]
    assert [s.rank for s in results.ranking] == [1, 2, 3, 4, 5]
    assert results.ranking[2].score == pytest.approx(math.log(1.1))


def test_crowd_median_counts_range_votes_at_their_midpoint_or_finite_edge():
    entries = [
        entry(1, value=1e15),
        entry(2, low=1e15, high=4e15),  # 2e15
        entry(3, low=None, high=5e14),  # 5e14
        entry(4, low=3e15, high=None),  # 3e15
        entry(5, value=1.6e15),
    ]
    results = polls.resolve(entries, 2e15)
    assert results.crowd_median == pytest.approx(1.6e15)
    assert results.crowd_error == pytest.approx(math.log(2 / 1.6))


def test_resolve_with_no_entries():
    results = polls.resolve([], A)
    assert results.ranking == () and results.crowd_median is None and results.crowd_error is None


# ---- the crowd so far ------------------------------------------------------------------------------------
def test_distribution_quartiles_interpolate_linearly():
    dist = polls.distribution([7, 1, 3, 5, 9, 11, 13, 15])
    assert (dist.count, dist.low, dist.high) == (8, 1, 15)
    assert (dist.q1, dist.median, dist.q3) == pytest.approx((4.5, 8.0, 11.5))


@pytest.mark.parametrize(("values", "median"), [([5.0], 5.0), ([1.0, 3.0], 2.0)])
def test_distribution_of_few_values(values, median):
    assert polls.distribution(values).median == median


def test_distribution_of_nothing_is_none():
    assert polls.distribution([]) is None


def test_histogram_bins_are_log_spaced_and_count_everything():
    values = [1e14, 1e15, 1e16, 3e15, 1e16]
    bins = polls.histogram_bins(values, bins=4)
    assert len(bins) == 4 and sum(count for *_, count in bins) == len(values)
    assert bins[0][0] == 1e14 and bins[-1][1] == 1e16
    ratios = [high / low for low, high, _ in bins]
    assert ratios == pytest.approx([10**0.5] * 4)
    assert [count for *_, count in bins] == [1, 0, 2, 2]  # the maximum lands in the last bin


@pytest.mark.parametrize(
    ("values", "expected"), [([], []), ([5e14], [(5e14, 5e14, 1)]), ([2.0, 2.0], [(2.0, 2.0, 2)])]
)
def test_histogram_of_one_value_is_one_bin(values, expected):
    assert polls.histogram_bins(values) == expected


# ---- texts -----------------------------------------------------------------------------------------------
def resolved():
    entries = [
        entry(1, value=1.5e15, name="Alice"),
        entry(2, low=8e14, high=1.25e15, name="Bob"),  # stands for 1e15
        entry(3, value=9e14, name="Carol", minutes=3),
    ]
    return polls.resolve(entries, 1.6e15)


@pytest.mark.parametrize(
    ("lang", "wanted"),
    [
        (
            "zh",
            [
                "实际:1,600 万亿(来源:IDC 2025)",
                "群体中位数 1,000 万亿,误差 0.47",
                "1. Alice:1,500 万亿,误差 0.065",
                "2. Bob:800–1,250 万亿,误差 0.25",
            ],
        ),
        (
            "en",
            [
                "Actual: 1.6 quadrillion (source: IDC 2025)",
                "Crowd median 1 quadrillion, error 0.47",
                "1. Alice: 1.5 quadrillion, error 0.065",
                "2. Bob: 800 trillion – 1.25 quadrillion, error 0.25",
            ],
        ),
    ],
)
def test_results_text_shows_the_figure_the_crowd_and_the_ranking(lang, wanted):
    text = polls.results_text("Q?", resolved(), "tokens", "IDC 2025", lang)
    assert text.splitlines()[0].endswith("Q?")
    for piece in wanted:
        assert piece in text
    assert text.index("Alice") < text.index("Bob") < text.index("Carol")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_results_text_shows_only_the_top_n(lang):
    text = polls.results_text("Q?", resolved(), "tokens", "IDC", lang, top=2)
    assert "Bob" in text and "Carol" not in text and "1" in text.splitlines()[-1]


@pytest.mark.parametrize(
    ("lang", "wanted"),
    [
        ("zh", ["状态:进行中", "截止:2026-03-31", "4 人预测;中位数 1,250 万亿,四分位 1,075 万亿 至 1,525 万亿"]),
        ("en", ["Status: open", "Closes: 2026-03-31", "4 predictions; median 1.25 quadrillion"]),
    ],
)
def test_summary_text_gives_the_crowd_but_no_single_prediction(lang, wanted):
    values = [1e15, 1.1e15, 1.4e15, 1.9e15]
    text = polls.summary_text("Q?", polls.distribution(values), date(2026, 3, 31), "open", lang)
    for piece in wanted:
        assert piece in text
    for lone in ("1,000 万亿", "1,900 万亿", "1 quadrillion", "1.9 quadrillion", "1,100 万亿", "1.1 quadrillion"):
        assert lone not in text


@pytest.mark.parametrize(("lang", "wanted"), [("zh", "还没有人预测"), ("en", "No predictions yet")])
def test_summary_text_without_predictions(lang, wanted):
    assert wanted in polls.summary_text("Q?", None, None, "closed", lang)


def test_summary_text_for_a_share_uses_percentages():
    text = polls.summary_text("Q?", polls.distribution([45.0, 50.0, 55.0]), None, "open", "en", unit="percent")
    assert "median 50%" in text
