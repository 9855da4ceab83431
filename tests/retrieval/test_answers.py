"""End-to-end answers of `Pipeline.answer`, table-driven.

Each case is a question an analyst might type (new phrasings, not the dev-set wording; both languages,
casual forms, typos, full-width digits, mixed scripts), the status it must get and the numbers (with their
unit words, the way `score_qa.py` reads them) or keywords its text must carry.
Every case runs twice, over a synced vector index in embedded Chroma and on a `chroma run` server.

Failing cases document the behaviour the pipeline should have; they are deliberately not xfail.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from knowledge.loaders import load_corpus
from retrieval.index import Index
from retrieval.pipeline import MAX_QUESTION_CHARS, Pipeline

T = 1e12  # 万亿 / trillion
YI = 1e8  # 亿


@pytest.fixture(scope="module")
def pipeline(module_chroma_url, tmp_path_factory):
    """As the bot builds it: the corpus synced into a vector index (embedded, or on a `chroma run` server)."""
    corpus = load_corpus()
    index = Index(tmp_path_factory.mktemp("answers"), chroma_url=module_chroma_url)
    names = {e.id: (e.name_zh, e.name_en) for e in corpus.entities}
    index.sync(corpus.passages, list(corpus.facts), entity_names=names)
    return Pipeline.from_corpus(corpus, index=index, today=lambda: date(2026, 11, 29))


# --- the scorer's number reader (copied from shared/eval/score_qa.py; tests must not read ../shared) -------

UNITS = [
    ("千万亿", 1e15), ("万亿", 1e12), ("千亿", 1e11), ("百亿", 1e10), ("亿", 1e8),
    ("万", 1e4), ("quadrillion", 1e15), ("trillion", 1e12), ("billion", 1e9),
    ("million", 1e6), ("thousand", 1e3), ("T", 1e12), ("B", 1e9), ("M", 1e6),
]  # fmt: skip
_unit_alt = "|".join(re.escape(u) for u, _ in UNITS)
NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\d.])"  # 1,073.4 / 536.7
    r"(?:\s*(?:[eE]([+-]?\d+)|[x×]\s*10\^?([0-9]+)))?"  # 1.142e14 / 1.142×10^14
    r"\s*(" + _unit_alt + r")?(?:[x×X](?!\s*10))?(?![A-Za-z0-9])"
)


def numbers_in(text: str) -> list[tuple[float, float]]:
    """(bare number, number times its unit word) for each number in the text, as the scorer reads them."""
    found = []
    for m in NUMBER.finditer(text):
        whole, frac, exp, exp10, unit = m.groups()
        power = int(exp or 0) + int(exp10 or 0)
        if abs(power) > 300:
            continue
        bare = float(whole.replace(",", "") + (frac or "")) * 10.0**power
        scale = dict(UNITS)[unit] if unit else 1.0
        found.append((bare, bare * scale))
    return found


def close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(abs(b), 1e-12)


def has_number(text: str, expected: float, scale: str = "tokens", tol: float = 0.01) -> bool:
    pick = 0 if scale == "plain" else 1
    return any(close(n[pick], expected, tol) for n in numbers_in(text))


# --- cases ------------------------------------------------------------------------------------------------


def case(id_, q, *values, status="answered", kw=(), absent=()):
    """values: (expected, "tokens" | "plain"[, tol]); kw: groups of alternatives, one of each must appear;
    absent: numbers (scaled, "tokens") that must NOT appear (e.g. a wrong figure the question suggests)."""
    return pytest.param(q, status, tuple(values), tuple(tuple(g) for g in kw), tuple(absent), id=id_)


def tok(value, tol=0.01):
    return (value, "tokens", tol)


def plain(value, tol=0.01):
    return (value, "plain", tol)


FIGURES = [
    # IDC totals
    case("idc-2024-zh-typo-tokns", "2024年公有云tokns调用量多少", tok(114.2 * T)),
    case("idc-2024-en-total", "What was the total MaaS token volume in China for 2024?", tok(114.2 * T)),
    case("idc-2024-zh-fullwidth", "２０２４年中国公有云大模型一共调用了多少 token?", tok(114.2 * T)),
    case("idc-2024-en-casual", "china public cloud llm tokens 2024??", tok(114.2 * T)),
    case("idc-2025H1-zh-compact", "2025H1 公有云大模型调用量", tok(536.7 * T)),
    case("idc-2025H1-zh-shangbannian", "2025 上半年 MaaS 市场一共多少 tokens", tok(536.7 * T)),
    case(
        "idc-2025H1-en-first-half",
        "How many tokens did China's public cloud LLM services serve in the first half of 2025?",
        tok(536.7 * T),
    ),
    case("idc-2025H1-en-H1-space", "china maas token volume H1 2025", tok(536.7 * T)),
    case("idc-2025H1-zh-wanyi", "2025年上半年中国大模型公有云调用量达到多少万亿?", tok(536.7 * T)),
    case("idc-2025H1-zh-25nian", "25年上半年公有云调用量是多少", tok(536.7 * T)),
    case("idc-2025H1-fullwidth", "２０２５年上半年公有云 tokens 调用总量", tok(536.7 * T)),
    # IDC shares
    case("share-volcano-2024-zh", "火山引擎 2024 年市场份额", plain(46.4)),
    case("share-volcano-2024-en-volcengine", "Volcengine's share of China's MaaS market in 2024?", plain(46.4)),
    case("share-volcano-2025H1-zh-alias", "火山 2025H1 份额", plain(49.2)),
    case("share-volcano-2025H1-en", "What share did Volcano Engine have in H1 2025?", plain(49.2)),
    case("share-volcano-2025H1-bytedance-cloud", "ByteDance cloud market share 2025H1", plain(49.2)),
    case("share-alibaba-2025H1-zh", "阿里云 2025 上半年占比多少", plain(27)),
    case("share-alibaba-2025H1-en", "Alibaba Cloud market share first half of 2025", plain(27)),
    case("share-alibaba-2025H1-zh-ali-shizhanlv", "阿里在大模型公有云市场的市占率(2025年上半年)", plain(27)),
    case("share-baidu-2025H1-zh", "百度智能云 2025H1 份额", plain(17)),
    case("share-baidu-2025H1-en", "Baidu AI Cloud's MaaS share, 2025H1", plain(17)),
    case("share-baidu-bare-half-zh", "百度云上半年份额是多少", plain(17)),
    case("share-aliyun-en-2025-H1-dash", "aliyun share 2025-H1", plain(27)),
    # Google monthly (company-wide)
    case("google-2024-05-zh", "Google 2024 年 5 月每月处理多少 tokens", tok(9.7 * T)),
    case("google-2024-05-en", "How many tokens per month did Google process in May 2024?", tok(9.7 * T)),
    case("google-2025-05-zh", "谷歌 2025 年 5 月 token 月处理量", tok(480 * T)),
    case("google-2025-05-en-short", "Google monthly tokens May 2025", tok(480 * T)),
    case("google-2025-06-en-alphabet", "Alphabet June 2025 monthly tokens", tok(980 * T)),
    case("google-2025-06-zh", "谷歌2025年6月每月tokens多少", tok(980 * T)),
    case("google-2025-10-zh", "Google 2025 年 10 月的月 token 量", tok(1300 * T)),
    case("google-2025-10-en-abbrev", "google tokens per month oct 2025", tok(1300 * T)),
    case("google-2026-05-zh", "谷歌 2026 年 5 月每月处理的 tokens", tok(3200 * T)),
    case("google-2026-05-en-iso", "Google monthly token volume 2026-05", tok(3200 * T)),
    # Doubao daily (company-wide)
    case("doubao-2024-05-zh", "豆包 2024 年 5 月日均调用量", tok(1200 * YI)),
    case("doubao-2024-05-en", "Doubao daily tokens in May 2024", tok(1200 * YI)),
    case("doubao-2024-09-zh", "豆包 2024年9月 每天多少 token", tok(1.3 * T)),
    case("doubao-2024-09-en", "Doubao's average daily token usage as of September 2024?", tok(1.3 * T)),
    case("doubao-2025-05-zh-yuedi", "豆包大模型截至2025年5月底日均tokens", tok(16.4 * T)),
    case("doubao-2025-05-en-iso", "doubao daily tokens 2025-05", tok(16.4 * T)),
    case("doubao-2025-09-zh", "豆包 2025 年 9 月底日均 Token 调用量", tok(30 * T)),
    case(
        "doubao-2025-09-en-end-of",
        "How many tokens a day was Doubao handling at the end of September 2025?",
        tok(30 * T),
    ),
    case("doubao-2025-12-zh", "豆包 2025 年 12 月日均调用量", tok(50 * T)),
    case("doubao-2025-12-en-dec", "Doubao daily token volume Dec 2025", tok(50 * T)),
    # National daily (国家数据局)
    case("national-2024-01-zh-nianchu", "全国 2024 年初日均 token 消耗量", tok(1000 * YI)),
    case("national-2024-01-en", "China's nationwide daily token consumption in January 2024?", tok(1000 * YI)),
    case("national-2025-06-zh", "截至 2025 年 6 月底,我国日均 Token 消耗量是多少?", tok(30 * T)),
    case("national-2025-06-en", "national daily tokens June 2025", tok(30 * T)),
    case("national-2025-12-zh-niandi", "2025 年底全国每天调用多少 tokens", tok(100 * T)),
    case(
        "national-2025-12-en-end-of",
        "What was China's national average daily token usage at the end of 2025?",
        tok(100 * T),
    ),
    case("national-2026-03-zh-nda", "国家数据局 2026 年 3 月日均 token 调用量", tok(140 * T)),
    case("national-2026-03-zh-ciyuan", "我国日均词元调用量 2026年3月", tok(140 * T)),
    case("national-2026-03-en", "How many tokens per day nationwide in March 2026?", tok(140 * T)),
]

ARITHMETIC = [
    # ratios
    case("ratio-idc-zh", "2025H1 公有云调用量是 2024 年的多少倍", plain(4.70)),
    case(
        "ratio-idc-en",
        "How many times bigger was China's MaaS token volume in H1 2025 compared with 2024?",
        plain(4.70),
    ),
    case("ratio-idc-zh-casual-jibei", "2025上半年的公有云token量差不多是24年全年的几倍啊", plain(4.70)),
    case("ratio-doubao-2025-12-vs-2024-05-zh", "豆包 2025 年 12 月日均是 2024 年 5 月的多少倍", plain(416.67)),
    case(
        "ratio-google-jun-vs-may-en",
        "Google's monthly tokens in June 2025 were how many times May 2025?",
        plain(2.04),
    ),
    case("ratio-google-2026-vs-2024-zh", "谷歌 2026 年 5 月的月 token 量是 2024 年 5 月的几倍?", plain(329.9)),
    case("ratio-share-volcano-vs-baidu-zh", "火山引擎 2025H1 份额是百度智能云的几倍", plain(2.89)),
    case(
        "ratio-share-volcano-vs-alibaba-en",
        "What's the ratio of Volcano Engine's share to Alibaba Cloud's in H1 2025?",
        plain(1.82),
    ),
    case(
        "ratio-national-2026-03-vs-2024-01-zh", "全国 2026 年 3 月日均调用量是 2024 年 1 月的多少倍", plain(1400)
    ),
    # differences
    case("diff-idc-zh-duoduoshao", "2025 上半年比 2024 全年多多少 tokens", tok(422.5 * T)),
    case(
        "diff-google-jun-may-en", "How much more did Google process in June 2025 than in May 2025?", tok(500 * T)
    ),
    case("diff-doubao-sep-may-zh-inherit", "豆包 2025 年 9 月比 5 月日均多了多少", tok(13.6 * T)),
    case("diff-share-volcano-alibaba-zh", "火山引擎和阿里云 2025 上半年份额相差多少", plain(22.2)),
    case(
        "diff-share-alibaba-baidu-en-gap",
        "gap between Alibaba Cloud and Baidu AI Cloud shares in H1 2025",
        plain(10),
    ),
    case("diff-national-2025-12-vs-06-zh", "全国日均 2025年底 比 2025年6月 多多少", tok(70 * T)),
    # growth in percent
    case("growth-idc-zh-baifenzhi", "2025 上半年公有云调用量比 2024 年增长了百分之多少?", plain(370.0)),
    case(
        "growth-doubao-may-sep-en",
        "By what percent did Doubao's daily tokens grow from May 2025 to September 2025?",
        plain(82.93),
    ),
    case("growth-google-jun-oct-zh", "谷歌 2025 年 10 月比 6 月增长率是多少", plain(32.65)),
    case(
        "growth-national-en",
        "By what percentage did China's national daily token count grow from the end of 2025 to March 2026?",
        plain(40),
    ),
    case("growth-doubao-zh-zhangfu", "豆包日均调用量 2024年9月 到 2025年5月 涨幅多少", plain(1161.5)),
    # percentage points between two shares
    case("points-volcano-zh", "火山引擎 2025H1 份额比 2024 年提高了几个百分点?", plain(2.8)),
    case(
        "points-volcano-en",
        "By how many percentage points did Volcano Engine's share change from 2024 to H1 2025?",
        plain(2.8),
    ),
    case("points-volcano-zh-casual", "火山份额 2024 到 2025上半年 涨了多少个点", plain(2.8)),
    # a share turned into volume
    case("derived-volcano-2025H1-zh", "火山引擎 2025 上半年调用量大约多少 tokens?", tok(264.06 * T)),
    case("derived-volcano-2025H1-en", "Estimate Volcano Engine's token volume in H1 2025", tok(264.06 * T)),
    case("derived-alibaba-2025H1-zh", "阿里云 2025H1 大概调用了多少 tokens", tok(144.91 * T)),
    case("derived-baidu-2025H1-zh", "百度智能云 2025 上半年 token 调用量大约是多少", tok(91.24 * T)),
    case("derived-volcano-2024-zh", "火山引擎 2024 年的调用量是多少", tok(52.99 * T)),
    # the rest of the market
    case("rest-volcano-zh", "2025H1 除了火山引擎,其他厂商合计占多少?", plain(50.8)),
    case("rest-volcano-en", "What share did everyone other than Volcano Engine have in H1 2025?", plain(50.8)),
    case("rest-three-zh", "火山、阿里、百度之外的厂商 2025 上半年份额加起来多少", plain(6.8)),
    case(
        "rest-three-en",
        "Excluding Volcano Engine, Alibaba Cloud and Baidu AI Cloud, what share is left in H1 2025?",
        plain(6.8),
    ),
    case("rest-volcano-2024-zh", "2024 年火山引擎以外的份额", plain(53.6)),
    # sums of shares
    case("sum-alibaba-baidu-zh", "阿里云加百度智能云 2025 上半年一共占多少份额", plain(44)),
    case("sum-alibaba-baidu-en", "Alibaba Cloud and Baidu AI Cloud combined share in H1 2025?", plain(44)),
    case("sum-volcano-alibaba-zh", "火山引擎和阿里云 2025 年上半年合计份额", plain(76.2)),
    case("sum-top-three-zh", "2025H1 前三家份额之和", plain(93.2)),
    # conversions
    case("daily-to-month-doubao-zh", "豆包 2025 年 5 月一个月大概多少 tokens?", tok(492 * T)),
    case(
        "daily-to-month-doubao-en",
        "Doubao's May 2025 daily average works out to how many tokens per month?",
        tok(492 * T),
    ),
    case("daily-to-month-doubao-zh-30days", "按 30 天算,豆包 2025 年 5 月月调用量是多少", tok(492 * T)),
    case("daily-to-month-national-zh", "2025 年底全国日均调用量折合一个月多少", tok(3000 * T)),
    case("half-to-monthly-zh", "2025H1 公有云每个月平均调用多少", tok(89.45 * T)),
    case("half-to-monthly-en", "What was the average monthly MaaS token volume in H1 2025?", tok(89.45 * T)),
    case("half-to-daily-zh", "2025 年上半年公有云日均调用量", tok(2.965 * T)),
    case(
        "half-to-daily-en",
        "Average tokens per day in China's public cloud market, first half of 2025?",
        tok(2.965 * T),
    ),
    case("year-to-daily-2024-zh", "2024 年公有云平均每天多少 token", tok(114.2 * T / 366)),
    # a simple projection
    case("projection-zh-chiping", "如果下半年和上半年持平,2025 全年公有云调用量多少?", tok(1073.4 * T)),
    case(
        "projection-en",
        "If H2 2025 matches H1, what would the 2025 full-year MaaS token volume be?",
        tok(1073.4 * T),
    ),
    case("projection-zh-jiashe", "假设 2025 下半年保持上半年的量,全年大概多少 tokens", tok(1073.4 * T)),
    case("projection-zh-anzhao", "按上半年的速度,2025 年全年公有云 tokens 会是多少", tok(1073.4 * T)),
]

RANKINGS_LATEST_SERIES = [
    case("rank-first-zh", "2025 上半年哪家第一?", plain(49.2), kw=[["火山引擎"]]),
    case("rank-third-en", "who is third in H1 2025", plain(17), kw=[["Baidu"]]),
    case("rank-second-zh", "2025H1 排第二的是谁", plain(27), kw=[["阿里云"]]),
    case("rank-number-one-en", "which vendor is number one in China's MaaS market", plain(49.2), kw=[["Volcano"]]),
    case("rank-2024-zh-zuida", "2024 年谁的份额最大", plain(46.4), kw=[["火山引擎"]]),
    case("rank-zh-laoda", "中国公有云大模型市场老大是谁", kw=[["火山引擎"]]),
    case("latest-google-zh", "Google 最新的月 token 量", tok(3200 * T)),
    case("latest-google-en", "What's Google's most recent monthly token count?", tok(3200 * T)),
    case("latest-doubao-zh-xianzai", "豆包现在日均多少 tokens", tok(50 * T)),
    case("latest-national-zh", "全国最新日均 token 调用量", tok(140 * T)),
    case("latest-national-en", "latest national daily tokens in China", tok(140 * T)),
    case(
        "series-doubao-zh",
        "豆包日均调用量的变化",
        tok(1200 * YI),
        tok(1.3 * T),
        tok(16.4 * T),
        tok(30 * T),
        tok(50 * T),
    ),
    case(
        "series-doubao-en",
        "How has Doubao's daily token usage evolved over time?",
        tok(1200 * YI),
        tok(1.3 * T),
        tok(16.4 * T),
        tok(30 * T),
        tok(50 * T),
    ),
    case(
        "series-google-zh",
        "谷歌每月 token 量的走势",
        tok(9.7 * T),
        tok(480 * T),
        tok(980 * T),
        tok(1300 * T),
        tok(3200 * T),
    ),
    case(
        "series-national-en",
        "national daily token trend in China",
        tok(1000 * YI),
        tok(30 * T),
        tok(100 * T),
        tok(140 * T),
    ),
    case("series-volcano-share-zh", "火山引擎份额的历史变化", plain(46.4), plain(49.2)),
]

UNIT_CONVERSIONS = [
    case(
        "convert-536.7-wanyi-to-trillion",
        "536.7 万亿是多少 trillion",
        plain(536.7),
        tok(536.7 * T),
        kw=[["trillion"]],
    ),
    case(
        "convert-1.3-quadrillion-to-wanyi", "1.3 quadrillion 是多少万亿", plain(1300), tok(1300 * T), kw=[["万亿"]]
    ),
    case("convert-480-trillion-en", "convert 480 trillion to 万亿", plain(480), kw=[["万亿"]]),
    case("convert-9.7-trillion-zh-units", "9.7 trillion 换成中文单位", plain(9.7), kw=[["万亿"]]),
    case("convert-1200yi-english", "1200亿 tokens in English?", plain(120), kw=[["billion"]]),
    case("convert-3.2-quadrillion-zheho", "3.2 quadrillion 折合多少万亿", plain(3200), kw=[["万亿"]]),
    case("convert-114.2-how-many-trillion", "how many trillion is 114.2万亿", plain(114.2), kw=[["trillion"]]),
]

RELATIVE_DATES = [  # today is 2026-11-29
    case("rel-qunian-di-national", "去年底全国日均调用量", tok(100 * T)),
    case("rel-jinnian-3yue-national", "今年 3 月全国日均 token", tok(140 * T)),
    case("rel-qunian-shangbannian-idc", "去年上半年公有云 tokens 总量", tok(536.7 * T)),
    case("rel-qunian-shangbannian-volcano", "火山引擎去年上半年的份额", plain(49.2)),
    case(
        "rel-first-half-of-last-year-en",
        "What was Volcano Engine's share in the first half of last year?",
        plain(49.2),
    ),
    case("rel-jinnian-5yue-google", "谷歌今年 5 月每月 tokens", tok(3200 * T)),
    case("rel-qunian-12yue-doubao", "豆包去年 12 月日均", tok(50 * T)),
    case(
        "rel-end-of-last-year-doubao-en",
        "How many tokens per day did Doubao average at the end of last year?",
        tok(50 * T),
    ),
    case("rel-qiannian-idc", "前年公有云调用量", tok(114.2 * T)),
]

KNOWN_ERRORS_AND_CLAIMS = [
    # Google's 980 万亿 is June 2025, announced in July
    case("google-july-zh", "Google 2025 年 7 月的 token 量是多少?", tok(980 * T), kw=[["6 月", "6月", "June"]]),
    case("google-july-claim-zh", "文章说谷歌 7 月涨到 980 万亿,对吗?", tok(980 * T), kw=[["6 月", "6月"]]),
    case(
        "google-july-claim-en",
        "Did Google really hit 980 trillion tokens in July 2025?",
        tok(980 * T),
        kw=[["June"]],
    ),
    case(
        "google-july-claim-en-is-it-true",
        "Is it true Google processed 980 trillion tokens in July?",
        tok(980 * T),
        kw=[["June"]],
    ),
    # Doubao "500 亿" a month: off by 10^4, should be about 492 万亿
    case(
        "doubao-500yi-claim-zh",
        "文章说豆包月均 500 亿次,对吗?",
        tok(492 * T),
        kw=[["不对", "有误", "错", "不正确", "不成立"]],
    ),
    case(
        "doubao-500yi-claim-zh-zhunque",
        "豆包 2025 年 5 月月均调用 500 亿次以上,这个说法准确吗?",
        tok(492 * T),
        kw=[["不对", "有误", "错", "不正确", "不成立"]],
    ),
    case(
        "doubao-500yi-claim-en",
        "The article says Doubao does over 50 billion tokens a month (May 2025). Is that right?",
        tok(492 * T),
        kw=[["not supported", "incorrect", "wrong"]],
    ),
    case(
        "doubao-500yi-claim-zh-casual",
        "豆包一个月才 500 亿 token?是不是写错了",
        tok(492 * T),
        kw=[["不对", "有误", "错", "不正确", "不成立"]],
    ),
    case(
        "doubao-500yi-claim-en-fact-check",
        "fact check: Doubao handles 50 billion tokens per month",
        tok(492 * T),
        kw=[["not supported", "incorrect", "wrong"]],
    ),
    # claims the data supports, and one it contradicts
    case(
        "claim-true-volcano-49.2-zh",
        "火山引擎 2025 上半年份额 49.2%,对吗?",
        plain(49.2),
        kw=[["正确", "相符", "没错", "属实"]],
    ),
    case(
        "claim-true-alibaba-27-en",
        "Is it true that Alibaba Cloud held 27% in H1 2025?",
        plain(27),
        kw=[["supported", "correct", "consistent"]],
    ),
    case(
        "claim-true-idc-2024-zh",
        "2024 年公有云调用量 114.2 万亿,准确吗?",
        tok(114.2 * T),
        kw=[["正确", "相符", "没错", "属实"]],
    ),
    case(
        "claim-true-doubao-16.4-zh",
        "豆包 2025年5月 日均 16.4 万亿是真的吗",
        tok(16.4 * T),
        kw=[["正确", "相符", "没错", "属实"]],
    ),
    case(
        "claim-false-baidu-27-zh",
        "百度智能云 2025 上半年份额 27%,对吗?",
        plain(17),
        kw=[["不对", "有误", "错", "不正确"]],
    ),
]

PASSAGES = [
    case("why-2024-07-zh", "2024 年 7 月发生了什么?", kw=[["豆包"], ["降价"]]),
    case("why-2024-07-en", "Why did token usage jump in July 2024?", kw=[["豆包", "Doubao"], ["降价", "price"]]),
    case("why-2025-02-zh", "2025 年 2 月为什么调用量突然暴涨", kw=[["DeepSeek"]]),
    case("why-2025-02-en", "What happened in February 2025 that drove the growth?", kw=[["DeepSeek"]]),
    # What someone did: an event question that names an entity is answered from the article, not as a figure.
    case("event-doubao-2024-07-zh", "豆包 2024 年 7 月做了什么", kw=[["降价"]]),
    case("event-doubao-2024-07-en", "What did Doubao do in July 2024?", kw=[["降价"]]),
    case("event-deepseek-en", "What did DeepSeek release in early 2025?", kw=[["DeepSeek-R1"]]),
    case("event-with-measure-is-a-figure", "What did Doubao's daily tokens reach in May 2025?", tok(16.4e12)),
    case("why-barometer-zh", "为什么说 MaaS 是晴雨表", kw=[["晴雨表"]]),
    case("why-barometer-en", "Why is MaaS called a barometer of the LLM industry?", kw=[["晴雨表", "barometer"]]),
    case("why-inflection-points-zh", "调用量的两个拐点是什么时候", kw=[["2024"], ["2025"], ["DeepSeek", "豆包"]]),
    case("why-developers-zh", "开发者为什么喜欢 MaaS", kw=[["开发者"], ["按量付费", "门槛", "模型商店"]]),
    case("article-deepseek-gpus-zh", "训练一套 DeepSeek MoE 要多少 GPU", plain(320)),
    case(
        "article-internal-traffic-zh",
        "火山引擎的份额包括豆包、抖音自己的调用量吗?",
        kw=[["不包括", "不含", "外部"]],
    ),
]

NOT_FOUND = [
    case("nf-tencent-share-zh", "腾讯云 2025 上半年份额是多少?", status="not_found"),
    case("nf-tencent-share-en", "Tencent Cloud's MaaS share in H1 2025?", status="not_found"),
    case("nf-aws-zh", "AWS 在中国的 token 调用量", status="not_found"),
    case("nf-aws-en", "How many tokens does AWS process per month?", status="not_found"),
    case("nf-huawei-zh", "华为云 2025 年日均 tokens", status="not_found"),
    case("nf-huawei-en", "Huawei Cloud token volume 2024", status="not_found"),
    case("nf-openai-zh", "OpenAI 每月处理多少 tokens?", status="not_found"),
    case("nf-openai-en", "OpenAI's monthly tokens in 2025?", status="not_found"),
    case("nf-azure-zh", "微软 Azure 在中国的市场份额", status="not_found"),
    case("nf-kimi-zh", "Kimi 的日均 tokens", status="not_found"),
    case("nf-zhipu-zh", "智谱在 MaaS 市场的份额", status="not_found"),
    case("nf-deepseek-volume-zh", "DeepSeek 2025 年调用量多少?", status="not_found"),
    case("nf-apple-zh", "苹果的 token 调用量", status="not_found"),
    case("nf-idc-2023-zh", "2023 年公有云大模型调用量", status="not_found"),
    case("nf-idc-2023-en", "What was China's MaaS token volume in 2023?", status="not_found"),
    case("nf-idc-2030-zh", "2030 年公有云调用量是多少", status="not_found"),
    case("nf-volcano-2030-en", "Volcano Engine share in 2030", status="not_found"),
    case("nf-baidu-2024-share-zh", "百度智能云 2024 年份额", status="not_found"),
    case("nf-alibaba-2024-share-en", "Alibaba Cloud's share in 2024?", status="not_found"),
    case("nf-alibaba-2024-share-zh", "阿里云 2024 年市场份额是多少", status="not_found"),
    case("nf-doubao-2023-zh", "豆包 2023 年日均调用量", status="not_found"),
    case("nf-google-2023-zh", "Google 2023 年每月 tokens", status="not_found"),
    case("nf-national-2023-zh", "全国 2023 年日均 token", status="not_found"),
    case("nf-idc-2025H2-zh", "2025 下半年公有云调用量", status="not_found"),
    case("nf-idc-Q3-2025-en", "Q3 2025 China MaaS token volume", status="not_found"),
    case("nf-volcano-2025H2-zh", "火山引擎 2025 下半年份额", status="not_found"),
    case("nf-weather-zh", "明天北京天气怎么样", status="not_found"),
    case("nf-weather-en", "What's the weather in Shanghai tomorrow?", status="not_found"),
    case("nf-joke-zh", "讲个冷笑话", status="not_found"),
    case("nf-joke-en", "tell me a joke", status="not_found"),
    case("nf-poem-zh", "写首诗", status="not_found"),
    case("nf-poem-en", "write a poem about clouds", status="not_found"),
    case("nf-hello", "hello", status="not_found"),
    case("nf-nihao", "你好", status="not_found"),
    case("nf-thanks-zh", "谢谢", status="not_found"),
    case("nf-bitcoin-zh", "比特币价格多少", status="not_found"),
    case("nf-arithmetic-en", "What is 2+2?", status="not_found"),
]

BAD_INPUT = [
    case("bad-empty", "", status="not_found"),
    case("bad-whitespace", "   \n\t  ", status="not_found"),
    case("bad-10000-chars", "火山引擎份额是多少" * 1112, status="not_found"),
    case("bad-emoji-only", "🤔🔥💯🚀", status="not_found"),
    case("bad-sql", "'; DROP TABLE facts; --", status="not_found"),
    case("bad-sql-select", "SELECT * FROM facts WHERE 1=1", status="not_found"),
    case("bad-html", "<script>alert(1)</script>", status="not_found"),
    case("bad-punctuation", "？？？!!!", status="not_found"),
    case("bad-absurd-unit", "10 zillion tokens 是多少万亿", status="not_found"),
]

ALL_CASES = (
    FIGURES
    + ARITHMETIC
    + RANKINGS_LATEST_SERIES
    + UNIT_CONVERSIONS
    + RELATIVE_DATES
    + KNOWN_ERRORS_AND_CLAIMS
    + PASSAGES
    + NOT_FOUND
    + BAD_INPUT
)
ALL_QUESTIONS = [pytest.param(p.values[0], id=p.id) for p in ALL_CASES]
FIGURE_QUESTIONS = [pytest.param(p.values[0], id=p.id) for p in FIGURES + ARITHMETIC + RELATIVE_DATES]


@pytest.mark.parametrize(("question", "status", "values", "keywords", "absent"), ALL_CASES)
def test_answer(pipeline, question, status, values, keywords, absent):
    got = pipeline.answer(question)
    text = got.answer
    assert got.status == status, f"status {got.status!r}, expected {status!r}; answer:\n{text}"
    for expected, scale, tol in values:
        assert has_number(text, expected, scale, tol), f"no number close to {expected:g} ({scale}) in:\n{text}"
    lowered = text.lower()
    for group in keywords:
        assert any(k.lower() in lowered for k in group), f"none of {group} in:\n{text}"
    for wrong in absent:
        assert not has_number(text, wrong), f"{wrong:g} should not appear in:\n{text}"


# --- structural checks, over every question above ---------------------------------------------------------

PERIOD_NUMBERS = {6, 30, 100, 181, 182, 184, 2, 365, 366, 28, 29, 31}  # months in a half, days, 100%, ×2


def allowed_numbers(question, got, corpus_values=()):
    """Values an answer may show: cited facts (value and every number in their citation), computation results
    and expressions, quoted passages and their errata notes, the question, plus period/date numbers."""
    allowed: list[float] = [MAX_QUESTION_CHARS, len(question.strip())]
    for fact in got.facts:
        allowed.append(fact.value)
        for field_ in (fact.report, fact.published, fact.source, fact.quote):
            allowed += [x for n in numbers_in(field_) for x in n]
    for comp in got.computations:
        allowed.append(comp.result)
        allowed += [x for n in numbers_in(comp.expression) for x in n]
    for passage in got.passages:
        allowed.append(passage.position + 1)
        allowed += [x for n in numbers_in(passage.text) for x in n]
    allowed += [x for n in numbers_in(question) for x in n]
    allowed += list(corpus_values)
    return allowed


def is_period_number(x: float) -> bool:
    if x != int(x):
        return False
    n = int(x)
    return 0 <= n <= 12 or 2000 <= n <= 2035 or n in PERIOD_NUMBERS or n in (10, 4)  # 10^4 in error notes


def invented_numbers(text, allowed):
    found = []
    stripped = re.sub(r"10\^\d+", " ", text)
    for bare, scaled in numbers_in(stripped):
        if is_period_number(bare) and bare == scaled:
            continue
        ok = any(close(v, a, 0.01) or abs(v - a) <= 0.051 for a in allowed for v in {bare, scaled})
        if not ok:
            found.append(bare if bare == scaled else scaled)
    return found


@pytest.fixture(scope="module")
def errata_numbers(pipeline):
    return [
        x for e in pipeline.errata for note in (e.note("zh"), e.note("en")) for n in numbers_in(note) for x in n
    ]


@pytest.fixture(scope="module")
def corpus_numbers(pipeline):
    return [f.value for f in pipeline.corpus.facts]


@pytest.mark.parametrize("question", ALL_QUESTIONS)
def test_no_invented_numbers(pipeline, errata_numbers, question):
    got = pipeline.answer(question)
    invented = invented_numbers(got.answer, allowed_numbers(question, got, errata_numbers))
    assert not invented, f"numbers not from a fact, computation, passage or the question: {invented}\n{got.answer}"


NOT_FOUND_QUESTIONS = [pytest.param(p.values[0], id=p.id) for p in NOT_FOUND + BAD_INPUT]


@pytest.mark.parametrize("question", NOT_FOUND_QUESTIONS)
def test_not_found_shows_no_number_outside_the_data(pipeline, corpus_numbers, question):
    got = pipeline.answer(question)
    assert got.status == "not_found"
    allowed = (
        list(corpus_numbers)
        + [x for n in numbers_in(question) for x in n]
        + [MAX_QUESTION_CHARS, len(question.strip())]
    )
    invented = invented_numbers(got.answer, allowed)
    assert not invented, f"not_found answer shows numbers that are not in the data: {invented}\n{got.answer}"
    assert not got.computations


@pytest.mark.parametrize("question", [pytest.param(p.values[0], id=p.id) for p in BAD_INPUT])
def test_bad_input_gets_a_short_answer(pipeline, question):
    got = pipeline.answer(question)
    assert got.status in ("answered", "not_found")
    assert got.answer.strip()
    assert len(got.answer) <= 600, f"{len(got.answer)} characters:\n{got.answer}"
    assert "<script>" not in got.answer and "DROP TABLE" not in got.answer


@pytest.mark.parametrize("question", FIGURE_QUESTIONS)
def test_answered_figures_cite_sourced_facts(pipeline, question):
    got = pipeline.answer(question)
    if got.status != "answered":
        pytest.fail(f"expected an answered figure, got {got.status}:\n{got.answer}")
    assert got.facts, f"no cited facts:\n{got.answer}"
    for fact in got.facts:
        assert fact.source.strip(), fact
        assert fact.report.strip() or fact.quote.strip(), fact


@pytest.mark.parametrize("question", ALL_QUESTIONS)
def test_computation_results_appear_in_expressions(pipeline, question):
    got = pipeline.answer(question)
    for comp in got.computations:
        pick = 1 if comp.unit == "tokens" else 0
        shown = [n[pick] for n in numbers_in(comp.expression)]
        # Rounding to two decimals is fine ("4.70×" for 4.6996), but not so far that the result vanishes
        # ("0.00×" for 0.0001).
        slack = 0.006 if abs(comp.result) >= 0.05 else 0.0
        assert any(close(v, comp.result, 0.01) or abs(v - comp.result) <= slack for v in shown), (
            f"{comp.result!r} ({comp.unit}) not shown in {comp.expression!r}"
        )


DESIGN_KEYS = {"question", "answer", "status", "language", "facts", "computations", "passages", "latency_ms"}
DESIGN_FACT_KEYS = {"metric", "entity", "period", "value", "unit", "qualifier", "source", "quote"}
DESIGN_COMPUTATION_KEYS = {"expression", "result", "unit"}


@pytest.mark.parametrize("question", ALL_QUESTIONS)
def test_to_dict_has_the_design_keys(pipeline, question):
    got = pipeline.answer(question).to_dict()
    assert set(got) == DESIGN_KEYS
    assert got["status"] in ("answered", "not_found")
    assert got["language"] in ("zh", "en")
    assert isinstance(got["answer"], str)
    assert isinstance(got["latency_ms"], (int, float))
    for fact in got["facts"]:
        assert set(fact) >= DESIGN_FACT_KEYS, set(fact)
    for comp in got["computations"]:
        assert set(comp) == DESIGN_COMPUTATION_KEYS
    for passage in got["passages"]:
        assert {"source", "text"} <= set(passage)


_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize(
    "question",
    [
        q
        for q in ALL_QUESTIONS
        if q.values[0].strip() and (_CJK.search(q.values[0]) or re.search(r"[A-Za-z]", q.values[0]))
    ],
)
def test_language_follows_the_question(pipeline, question):
    expected = "zh" if _CJK.search(question) else "en"
    got = pipeline.answer(question)
    assert got.language == expected
    if expected == "en" and got.status == "answered" and not got.passages:
        # An English answer is written in English (the cited report names and quotes may be Chinese).
        headline = got.answer.split("\n")[0]
        assert not _CJK.search(headline), headline


def test_at_least_170_table_cases():
    assert len(ALL_CASES) >= 170
    assert len(NOT_FOUND) + len(BAD_INPUT) >= 30
    assert len({p.id for p in ALL_CASES}) == len(ALL_CASES)


def test_never_raises_on_odd_input(pipeline):
    for question in ["\x00", "\u200b", "1", "2025", "万亿", "%", "H1", "?" * 5000, "a" * (MAX_QUESTION_CHARS + 1)]:
        got = pipeline.answer(question)
        assert got.status in ("answered", "not_found")


def test_number_helpers_read_like_the_scorer():
    assert has_number("总量为 1,073.4 万亿。", 1073.4 * T)
    assert has_number("536.7 trillion", 536.7 * T)
    assert has_number("是 2024 年的 4.70×", 4.70, "plain")
    assert has_number("超过 3,200 万亿", 3.2e15)
    assert not has_number("2025H1", 1, "plain")  # H1 is a period, not a number
    assert invented_numbers("火山引擎份额 55.5%,2025 年 6 月", [49.2]) == [55.5]
    assert invented_numbers("约 264.1 万亿(49.2% × 536.7 万亿)", [264.06e12, 49.2, 536.7e12]) == []
    assert invented_numbers("相差约 10^4 倍", []) == []
