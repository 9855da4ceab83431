"""retrieval.understand.understand: language, entities, periods and intent read from one question (pure)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.loaders import load_corpus
from retrieval import vocabulary
from retrieval.understand import contains_any, understand

TODAY = date(2026, 11, 29)


@pytest.fixture(scope="module")
def entities():
    return load_corpus().entities


def periods(query):
    return [m.canonical() for m in query.periods]


# --- language ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        pytest.param("火山引擎的份额是多少?", "zh", id="zh-plain"),
        pytest.param("What is Volcano Engine's share?", "en", id="en-plain"),
        pytest.param("Google 最新的月 token 量", "zh", id="mixed-script-is-zh"),
        pytest.param("２０２４年调用量", "zh", id="zh-fullwidth-digits"),
        pytest.param("doubao daily tokens 2025-05", "en", id="en-lowercase"),
        pytest.param("536.7 万亿是多少 trillion", "zh", id="convert-mixed-zh"),
    ],
)
def test_language(entities, question, lang):
    assert understand(question, entities, TODAY).lang == lang


# --- entities ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        pytest.param("火山 2025H1 份额", ("volcano_engine",), id="huoshan-short"),
        pytest.param("字节火山的份额", ("volcano_engine",), id="zijie-huoshan"),
        pytest.param("Volcengine share in 2024", ("volcano_engine",), id="volcengine"),
        pytest.param("ByteDance cloud market share", ("volcano_engine",), id="bytedance-cloud"),
        pytest.param("bytedance CLOUD share", ("volcano_engine",), id="bytedance-cloud-case"),
        pytest.param("阿里的份额", ("alibaba_cloud",), id="ali-short"),
        pytest.param("阿里云的份额", ("alibaba_cloud",), id="aliyun-zh"),
        pytest.param("Aliyun share H1 2025", ("alibaba_cloud",), id="aliyun-en"),
        pytest.param("百度云上半年份额", ("baidu_ai_cloud",), id="baiduyun"),
        pytest.param("Baidu Cloud share", ("baidu_ai_cloud",), id="baidu-cloud-en"),
        pytest.param("Google 云 5 月的调用量", ("google",), id="google-yun"),
        pytest.param("Alphabet monthly tokens", ("google",), id="alphabet"),
        pytest.param("谷歌云每月 tokens", ("google",), id="guge-yun"),
        pytest.param("豆包日均调用量", ("doubao",), id="doubao-zh"),
        pytest.param("Doubao LLM daily tokens", ("doubao",), id="doubao-llm-en"),
        pytest.param("全国日均 token", ("china",), id="quanguo"),
        pytest.param("阿里云和百度智能云合计份额", ("alibaba_cloud", "baidu_ai_cloud"), id="two-in-order"),
        pytest.param("百度和火山谁大", ("baidu_ai_cloud", "volcano_engine"), id="two-in-order-reversed"),
    ],
)
def test_entities(entities, question, expected):
    assert understand(question, entities, TODAY).entities == expected


def test_unknown_vendor_is_not_an_entity(entities):
    q = understand("腾讯云的份额是多少", entities, TODAY)
    assert q.entities == ()
    assert q.unknown_vendors and q.unknown_vendors[0][1] == "Tencent Cloud"


def test_unknown_vendor_en(entities):
    q = understand("What is AWS's token volume?", entities, TODAY)
    assert q.entities == ()
    assert ("亚马逊 AWS", "AWS") in q.unknown_vendors


# --- periods ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        pytest.param("2025H1 调用量", ["2025H1"], id="2025H1"),
        pytest.param("2025h1 volume", ["2025H1"], id="2025h1-lower"),
        pytest.param("2025-H1 volume", ["2025H1"], id="2025-H1-dash"),
        pytest.param("2025 上半年调用量", ["2025H1"], id="2025-shangbannian"),
        pytest.param("2025年上半年调用量", ["2025H1"], id="2025nian-shangbannian"),
        pytest.param("2025 年下半年调用量", ["2025H2"], id="2025-xiabannian"),
        pytest.param("volume in H1 2025", ["2025H1"], id="H1-2025"),
        pytest.param("volume in the first half of 2025", ["2025H1"], id="first-half-of-2025"),
        pytest.param("second half of 2025", ["2025H2"], id="second-half-of-2025"),
        pytest.param("２０２５年上半年", ["2025H1"], id="fullwidth-2025-half"),
        pytest.param("2025 年 5 月", ["2025-05"], id="2025nian-5yue"),
        pytest.param("2025年五月", ["2025-05"], id="2025nian-chinese-numeral-month"),
        pytest.param("May 2025", ["2025-05"], id="May-2025"),
        pytest.param("in may 2025", ["2025-05"], id="may-2025-lower"),
        pytest.param("Sept 2024", ["2024-09"], id="Sept-2024"),
        pytest.param("2025-05", ["2025-05"], id="iso-month"),
        pytest.param("2025/5", ["2025-05"], id="slash-month"),
        pytest.param("截至 2025 年 5 月底", ["2025-05"], id="5yue-di"),
        pytest.param("2025 年 7 月和 5 月底", ["2025-07", "2025-05"], id="inherited-year"),
        pytest.param("2024 年 9 月到 2025 年 5 月", ["2024-09", "2025-05"], id="two-months"),
        pytest.param("2025 年底", ["2025-12"], id="2025-niandi"),
        pytest.param("end of 2025", ["2025-12"], id="end-of-2025"),
        pytest.param("2024 年初", ["2024-01"], id="2024-nianchu"),
        pytest.param("Q3 2025", ["2025Q3"], id="Q3-2025"),
        pytest.param("2025Q3", ["2025Q3"], id="2025Q3"),
        pytest.param("2025 年第三季度", ["2025Q3"], id="2025-di-san-jidu"),
        pytest.param("3Q25 report", ["2025Q3"], id="3Q25"),
        pytest.param("2024 全年", ["2024"], id="2024-quannian"),
        pytest.param("２０２４年", ["2024"], id="fullwidth-2024"),
        pytest.param("25年上半年", ["2025H1"], id="two-digit-year-half"),
        # relative to today = 2026-11-29
        pytest.param("去年的调用量", ["2025"], id="qunian"),
        pytest.param("今年上半年", ["2026H1"], id="jinnian-shangbannian"),
        pytest.param("去年上半年", ["2025H1"], id="qunian-shangbannian"),
        pytest.param("前年", ["2024"], id="qiannian"),
        pytest.param("去年 12 月", ["2025-12"], id="qunian-12yue"),
        pytest.param("去年底", ["2025-12"], id="qunian-di"),
        pytest.param("last year", ["2025"], id="last-year"),
        pytest.param("this year", ["2026"], id="this-year"),
        pytest.param("first half of last year", ["2025H1"], id="first-half-of-last-year"),
        pytest.param("end of last year", ["2025-12"], id="end-of-last-year"),
    ],
)
def test_periods(entities, question, expected):
    assert periods(understand(question, entities, TODAY)) == expected


def test_relative_years_follow_the_injected_date(entities):
    q = understand("去年的调用量", entities, date(2025, 3, 1))
    assert periods(q) == ["2024"]
    assert q.periods[0].relative == "去年"
    assert periods(understand("last year", entities, date(2025, 3, 1))) == ["2024"]
    assert periods(understand("今年上半年", entities, date(2025, 3, 1))) == ["2025H1"]


def test_bare_month_has_no_year(entities):
    q = understand("Google 7 月的调用量", entities, TODAY)
    assert len(q.periods) == 1
    assert q.periods[0].kind == "month" and q.periods[0].index == 7 and q.periods[0].year is None


@pytest.mark.parametrize(
    "question",
    [
        pytest.param("may I ask what Volcano Engine's share is?", id="may-i-ask"),
        pytest.param("May I ask about Doubao's daily tokens?", id="May-I-ask-capital"),
        pytest.param("This may be wrong, but is Alibaba second?", id="may-be"),
        pytest.param("maybe Baidu is third?", id="maybe"),
    ],
)
def test_may_as_a_verb_is_not_a_month(entities, question):
    assert periods(understand(question, entities, TODAY)) == []


def test_may_as_a_month_with_context(entities):
    q = understand("Doubao's daily tokens in may", entities, TODAY)
    assert [(m.kind, m.index) for m in q.periods] == [("month", 5)]


# --- intents ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        pytest.param("2025 上半年是 2024 年的几倍", "ratio", id="ratio-jibei"),
        pytest.param("How many times larger is H1 2025 than 2024?", "ratio", id="ratio-how-many-times"),
        pytest.param("2025 上半年比 2024 年多多少", "difference", id="difference-duoduoshao"),
        pytest.param(
            "How much more did Google process in June 2025 than May 2025?",
            "difference",
            id="difference-how-much-more",
        ),
        pytest.param("2025 上半年比 2024 年增长了百分之多少", "growth", id="growth-baifenzhi"),
        pytest.param(
            "By what percent did Doubao grow from May 2025 to September 2025?",
            "growth",
            id="growth-by-what-percent",
        ),
        pytest.param("火山引擎 2025H1 份额比 2024 年提高了几个百分点", "difference", id="points-difference"),
        pytest.param("阿里云和百度智能云 2025H1 合计份额", "sum", id="sum-heji"),
        pytest.param("Alibaba Cloud and Baidu AI Cloud combined share", "sum", id="sum-combined"),
        pytest.param("火山引擎以外的厂商共占多少份额", "rest", id="rest-yiwai"),
        pytest.param("everyone other than Volcano Engine, what share?", "rest", id="rest-other-than"),
        pytest.param("2025 上半年平均每月调用多少", "average", id="average-monthly"),
        pytest.param("如果下半年和上半年持平,2025 全年多少", "projection", id="projection-zh"),
        pytest.param("If H2 2025 matches H1, what is the full year?", "projection", id="projection-en-if"),
        pytest.param("2025 上半年哪家第一", "ranking", id="ranking-najia-diyi"),
        pytest.param("who is third in H1 2025", "ranking", id="ranking-third"),
        pytest.param("Google 最新的月 token 量", "latest", id="latest-zh"),
        pytest.param("豆包日均调用量的变化", "series", id="series-bianhua"),
        pytest.param("536.7 万亿是多少 trillion", "convert", id="convert-to-trillion"),
        pytest.param("1.3 quadrillion 是多少万亿", "convert", id="convert-to-wanyi"),
        pytest.param("2025 年 2 月为什么暴涨", "why", id="why-weishenme"),
        pytest.param("What happened in July 2024?", "why", id="why-what-happened"),
        pytest.param("火山引擎 2025 上半年份额 49.2%,对吗?", "claim", id="claim-duima"),
        pytest.param("Is it true that Alibaba Cloud held 27% in H1 2025?", "claim", id="claim-is-it-true"),
        pytest.param("火山引擎 2024 年的份额", "value", id="value-default"),
    ],
)
def test_intent(entities, question, intent):
    assert understand(question, entities, TODAY).intent == intent


@pytest.mark.parametrize(
    ("question", "rank"),
    [
        pytest.param("who is third in H1 2025", 3, id="third"),
        pytest.param("2025H1 排第二的是谁", 2, id="pai-di-er"),
        pytest.param("2025 上半年哪家第一", 1, id="di-yi"),
    ],
)
def test_rank(entities, question, rank):
    assert understand(question, entities, TODAY).rank == rank


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        pytest.param("536.7 万亿是多少 trillion", "trillion", id="to-trillion"),
        pytest.param("1.3 quadrillion 是多少万亿", "万亿", id="to-wanyi"),
        pytest.param("1200亿 tokens in billion?", "billion", id="to-billion"),
    ],
)
def test_target_unit(entities, question, unit):
    assert understand(question, entities, TODAY).target_unit == unit


def test_quantities_and_measures(entities):
    q = understand("文章说豆包月均 500 亿次,对吗?", entities, TODAY)
    assert [x.value for x in q.quantities] == [5e10]
    assert "monthly" in q.measures
    assert understand("火山引擎份额", entities, TODAY).measures == frozenset({"share"})
    assert "daily" in understand("豆包日均调用量", entities, TODAY).measures


@pytest.mark.parametrize(
    "question",
    ["", "   ", "🤔🔥", "'; DROP TABLE facts; --", "<script>alert(1)</script>", "x" * 10_000, "\x00\u200b"],
    ids=["empty", "spaces", "emoji", "sql", "html", "10k-chars", "control-chars"],
)
def test_never_raises(entities, question):
    q = understand(question, entities, TODAY)
    assert q.lang in ("zh", "en")
    assert q.today == TODAY


def test_is_pure(entities):
    first = understand("火山引擎 2025 上半年份额", entities, TODAY)
    second = understand("火山引擎 2025 上半年份额", entities, TODAY)
    assert first == second


MISSPELT = [
    ("Gogle's monthly tokens in May 2025?", ("google",)),
    ("Googel vs Alibaba", ("google", "alibaba_cloud")),
    ("Alibba Cloud share in H1 2025?", ("alibaba_cloud",)),
    ("Vulcano engine share 2024", ("volcano_engine",)),
    ("Doubao dialy tokens", ("doubao",)),
    ("百度只能云 2025 上半年份额", ("baidu_ai_cloud",)),
    ("火山引掣的份额", ("volcano_engine",)),
]
NOT_NAMES = ["double the tokens", "How did the market grow?", "monthly tokens growth", "What about Baidoo?"]


@pytest.mark.parametrize(("question", "expected"), MISSPELT, ids=[q for q, _ in MISSPELT])
def test_misspelt_entity_names_are_still_recognised(entities, question, expected):
    assert understand(question, entities, TODAY).entities == expected


@pytest.mark.parametrize("question", NOT_NAMES)
def test_ordinary_words_are_not_taken_for_misspelt_names(entities, question):
    assert understand(question, entities, TODAY).entities == ()


# --- many entities (EntityMatcher) ------------------------------------------------------------------------

SYLLABLES_ZH = "星云海川峰岭谷原林泉石光辰曜澜汐岚霁"
SYLLABLES_EN = ["nova", "terra", "quill", "vexa", "zorin", "pyra", "lumo", "brix", "kairo", "tesso"]


def crowd(n: int):
    """n invented vendors with Chinese and Latin names (none of them a word of the test questions)."""
    from knowledge.loaders import Entity

    out = []
    for i in range(n):
        zh = "".join(SYLLABLES_ZH[(i // 17**k) % 17] for k in range(3)) + "云"
        en = "".join(SYLLABLES_EN[(i // 10**k) % 10] for k in range(4)).capitalize() + " Cloud"
        out.append(Entity(f"vendor_{i}", zh, en))
    return out


MANY_ENTITY_QUESTIONS = [
    "火山引擎 2025 上半年份额是多少", "阿里云和百度智能云的份额相加", "Volcano Engine vs Alibaba Cloud share",
    "豆包大模型日均调用量", "Google 五月的 tokens", "火山引情的份额", "Alibaba Clod share in 2024",
    "Googel monthly tokens", "腾讯云的份额是多少", "2024 年公有云调用量",
]  # fmt: skip


@pytest.fixture(scope="module")
def vendors():
    return crowd(3000)


@pytest.fixture(scope="module")
def crowded(entities, vendors):
    from retrieval.understand import EntityMatcher

    return EntityMatcher.of([*vendors, *entities])


@pytest.mark.parametrize("question", MANY_ENTITY_QUESTIONS)
def test_thousands_of_other_entities_change_nothing_about_the_known_ones(entities, crowded, question):
    few = understand(question, entities, TODAY)
    many = understand(question, crowded, TODAY)
    assert (many.entities, many.unknown_vendors, many.intent) == (few.entities, few.unknown_vendors, few.intent)


def test_a_vendor_among_thousands_is_found_by_name_and_by_a_misspelling(vendors, crowded):
    matcher = crowded
    target = vendors[1234]
    assert list(understand(f"{target.name_zh} 2025 年的份额", matcher, TODAY).entities) == [target.id]
    assert list(understand(f"{target.name_en} share in 2025", matcher, TODAY).entities) == [target.id]
    misspelt = target.name_en.replace(" Cloud", "")[:-1] + "x" + " Cloud"  # one letter changed
    found = list(understand(f"{misspelt} share in 2025", matcher, TODAY).entities)
    assert found == [target.id], (misspelt, found)


# --- cue words ------------------------------------------------------------------------------------------


def _word_in_one_at_a_time(word: str, norm: str) -> bool:
    """The reference: each word on its own, as `contains_any` matched before it compiled word lists."""
    if re.search(r"[\u4e00-\u9fff]", word) or not word[:1].isalnum():
        return word in norm
    return re.search(rf"(?<![a-z0-9]){re.escape(word.strip())}(?![a-z])", norm) is not None


WORD_LISTS = [getattr(vocabulary, name) for name in dir(vocabulary) if name.endswith("_WORDS")]
PIECES = sorted({w for words in WORD_LISTS for w in words} | {"maybe", "x", "2025", " ", "的", "s", "ly", "-"})


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=8), st.integers(0, len(WORD_LISTS) - 1))
def test_compiled_word_lists_match_exactly_as_word_by_word(pieces, which):
    norm, words = "".join(pieces), WORD_LISTS[which]
    assert contains_any(norm, words) == any(_word_in_one_at_a_time(w, norm) for w in words)
