"""knowledge.units reads every quantity users and sources write, and writes them back readably."""

import unicodedata
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knowledge.errors import UnitError
from knowledge.units import (
    Found,
    Quantity,
    find_quantities,
    format_count,
    format_percent,
    format_points,
    format_quantity,
    format_ratio,
    parse_count,
    parse_quantity,
    qualifier_words,
)

# Pytest escapes non-ASCII ids to \uXXXX; spelling Chinese in pinyin keeps the ids readable.
PINYIN = {
    "万": "wan", "亿": "yi", "兆": "zhao", "千": "qian", "百": "bai", "十": "shi", "点": "dian",
    "零": "ling", "〇": "ling0", "一": "yi1", "二": "er", "两": "liang", "三": "san", "四": "si",
    "五": "wu", "六": "liu", "七": "qi", "八": "ba", "九": "jiu", "壹": "yi1-formal", "贰": "er-formal",
    "叁": "san-formal", "拾": "shi-formal", "佰": "bai-formal", "萬": "wan-trad", "億": "yi-trad",
    "分": "fen", "之": "zhi", "个": "ge", "倍": "bei", "次": "ci", "词": "ci2", "元": "yuan",
    "超": "chao", "过": "guo", "逾": "yu2", "突": "tu", "破": "po", "达": "da", "到": "dao", "以": "yi3",
    "上": "shang", "下": "xia", "多": "duo", "余": "yu", "不": "bu", "足": "zu", "少": "shao",
    "于": "yu3", "约": "yue", "大": "da4", "近": "jin", "接": "jie", "左": "zuo", "右": "you",
    "截": "jie2", "至": "zhi4", "负": "fu", "×": "x-sign", "≈": "approx-sign", "≥": "ge-sign",
    "≤": "le-sign", "…": "...", "将": "jiang", "高": "gao", "低": "di", "有": "you3", "共": "gong",
    "张": "zhang", "兩": "liang-trad", "些": "xie", "统": "tong",
}  # fmt: skip


def readable(text: object) -> str:
    """A test id for an input: ASCII kept, Chinese in pinyin, full-width marked, anything else named."""
    if not isinstance(text, str):
        return repr(text)
    parts: list[str] = []
    for char in text:
        if char.isascii():
            parts.append(char)
        elif char in PINYIN:
            parts.append(f"[{PINYIN[char]}]")
        elif unicodedata.normalize("NFKC", char).isascii():
            parts.append(f"[fw{unicodedata.normalize('NFKC', char)}]")
        else:
            parts.append(f"[{unicodedata.name(char, hex(ord(char))).lower()}]")
    return "".join(parts) or "(empty)"


def table(rows: list[tuple]) -> list:
    return [pytest.param(*row, id=readable(row[0])) for row in rows]


# ---------------------------------------------------------------------------------------------------------
# Counts: (text, value, qualifier)
CORPUS_COUNTS = [
    ("114.2万亿", 114.2e12, "exact"),
    ("114.2 万亿", 114.2e12, "exact"),
    ("114.2 万亿次", 114.2e12, "exact"),
    ("536.7万亿", 536.7e12, "exact"),
    ("536.7 万亿次", 536.7e12, "exact"),
    ("536.7万亿Tokens", 536.7e12, "exact"),
    ("1200亿", 1200e8, "exact"),
    ("1200亿次", 1200e8, "exact"),
    ("1000亿", 1000e8, "exact"),
    ("1000 亿", 1000e8, "exact"),
    ("500 亿", 500e8, "exact"),
    ("500 亿次", 500e8, "exact"),
    ("16.4万亿", 16.4e12, "exact"),
    ("16.4 万亿次", 16.4e12, "exact"),
    ("30万亿", 30e12, "exact"),
    ("100万亿", 100e12, "exact"),
    ("140万亿", 140e12, "exact"),
    ("1.3万亿", 1.3e12, "exact"),
    ("980 万亿", 980e12, "exact"),
    ("480 万亿", 480e12, "exact"),
    ("492 万亿", 492e12, "exact"),
    ("9.7 trillion", 9.7e12, "exact"),
    ("480 trillion", 480e12, "exact"),
    ("980 trillion", 980e12, "exact"),
    ("1.3 quadrillion", 1.3e15, "exact"),
    ("3.2 quadrillion", 3.2e15, "exact"),
    ("9.7T", 9.7e12, "exact"),
    ("480T", 480e12, "exact"),
    ("1500T", 1.5e15, "exact"),
    ("突破 30 万亿", 30e12, "at_least"),
    ("突破30万亿", 30e12, "at_least"),
    ("突破50万亿", 50e12, "at_least"),
    ("超过1.3万亿", 1.3e12, "at_least"),
    ("超过140万亿", 140e12, "at_least"),
    ("more than 980 trillion tokens", 980e12, "at_least"),
    ("over 1.3 quadrillion tokens", 1.3e15, "at_least"),
    ("达536.7万亿", 536.7e12, "exact"),
    ("达到 536.7 万亿次", 536.7e12, "exact"),
]

DIGIT_FORMS = [
    ("1200", 1200, "exact"),
    ("0", 0, "exact"),
    ("0.5", 0.5, "exact"),
    (".5", 0.5, "exact"),
    ("1,500", 1500, "exact"),
    ("1,234,567", 1234567, "exact"),
    ("1,500万亿", 1.5e15, "exact"),
    ("1，500万亿", 1.5e15, "exact"),
    ("1,234.5", 1234.5, "exact"),
    ("１２００亿", 1200e8, "exact"),
    ("１２００", 1200, "exact"),
    ("５３６．７万亿", 536.7e12, "exact"),
    ("-5", -5, "exact"),
    ("+5", 5, "exact"),
    ("−5", -5, "exact"),
    ("-536.7 万亿", -536.7e12, "exact"),
    ("负5亿", -5e8, "exact"),
    ("  536.7万亿  ", 536.7e12, "exact"),
    ("536.7\u3000万亿", 536.7e12, "exact"),
]

CHINESE_UNITS = [
    ("1万", 1e4, "exact"),
    ("1亿", 1e8, "exact"),
    ("1万亿", 1e12, "exact"),
    ("1千万亿", 1e15, "exact"),
    ("1.5千万亿", 1.5e15, "exact"),
    ("3千亿", 3e11, "exact"),
    ("5百亿", 5e10, "exact"),
    ("2十亿", 2e9, "exact"),
    ("3千万", 3e7, "exact"),
    ("4百万", 4e6, "exact"),
    ("1.5 千亿", 1.5e11, "exact"),
    ("3兆", 3e12, "exact"),
    ("1.2兆", 1.2e12, "exact"),
    ("3兆5000亿", 3.5e12, "exact"),
    ("3亿5000万", 3.5e8, "exact"),
    ("5萬", 5e4, "exact"),
    ("5億", 5e8, "exact"),
    ("5萬億", 5e12, "exact"),
]

CHINESE_NUMERALS = [
    ("零", 0, "exact"),
    ("〇", 0, "exact"),
    ("一", 1, "exact"),
    ("两", 2, "exact"),
    ("十", 10, "exact"),
    ("十二", 12, "exact"),
    ("二十", 20, "exact"),
    ("二十五", 25, "exact"),
    ("一百", 100, "exact"),
    ("一百零五", 105, "exact"),
    ("一千零五十", 1050, "exact"),
    ("一千二百", 1200, "exact"),
    ("一千二百亿", 1200e8, "exact"),
    ("两万亿", 2e12, "exact"),
    ("三十万亿", 30e12, "exact"),
    ("一百一十四点二万亿", 114.2e12, "exact"),
    ("五百三十六点七万亿", 536.7e12, "exact"),
    ("一千五百万亿", 1.5e15, "exact"),
    ("五千万亿", 5e15, "exact"),
    ("三亿五千万", 3.5e8, "exact"),
    ("两万三千亿", 2.3e12, "exact"),
    ("一万亿五千亿", 1.5e12, "exact"),
    ("十万", 1e5, "exact"),
    ("十亿", 1e9, "exact"),
    ("零点五", 0.5, "exact"),
    ("三点一四", 3.14, "exact"),
    ("二〇二五", 2025, "exact"),
    ("壹贰叁", 123, "exact"),
    ("壹佰贰拾", 120, "exact"),
    ("叁萬億", 3e12, "exact"),
    ("一兆", 1e12, "exact"),
    ("兩萬億", 2e12, "exact"),
]

ENGLISH = [
    ("1.5 thousand", 1.5e3, "exact"),
    ("2 million", 2e6, "exact"),
    ("2 millions", 2e6, "exact"),
    ("3 billion", 3e9, "exact"),
    ("3 Billion", 3e9, "exact"),
    ("3 BILLION", 3e9, "exact"),
    ("9.7 Trillion", 9.7e12, "exact"),
    ("9.7 trillions", 9.7e12, "exact"),
    ("1.3 Quadrillion tokens", 1.3e15, "exact"),
    ("9.7t", 9.7e12, "exact"),
    ("500B", 5e11, "exact"),
    ("500b", 5e11, "exact"),
    ("20M", 2e7, "exact"),
    ("1.5K", 1.5e3, "exact"),
    ("1.5k", 1.5e3, "exact"),
    ("1.5bn", 1.5e9, "exact"),
    ("1.5 bn", 1.5e9, "exact"),
    ("3 mn", 3e6, "exact"),
    ("1,200 billion", 1.2e12, "exact"),
    ("9.7T tokens", 9.7e12, "exact"),
    ("980 trillion Tokens", 980e12, "exact"),
]

SCIENTIFIC = [
    ("1.5e15", 1.5e15, "exact"),
    ("1.5E15", 1.5e15, "exact"),
    ("1.5E+15", 1.5e15, "exact"),
    ("1.5e-3", 1.5e-3, "exact"),
    ("1.5×10^15", 1.5e15, "exact"),
    ("1.5x10^15", 1.5e15, "exact"),
    ("1.5X10^15", 1.5e15, "exact"),
    ("1.5*10^15", 1.5e15, "exact"),
    ("1.5 × 10^15", 1.5e15, "exact"),
    ("1.5 × 10 ^ 15", 1.5e15, "exact"),
    ("1.5×10¹⁵", 1.5e15, "exact"),
    ("1.5×10⁻³", 1.5e-3, "exact"),
    ("10^15", 1e15, "exact"),
    ("10¹²", 1e12, "exact"),
    ("1.5e15 tokens", 1.5e15, "exact"),
]

QUALIFIED_COUNTS = [
    ("超过 30 万亿", 30e12, "at_least"),
    ("超 30 万亿", 30e12, "at_least"),
    ("逾30万亿", 30e12, "at_least"),
    ("突破 30 万亿", 30e12, "at_least"),
    ("至少 320", 320, "at_least"),
    ("高于 500 亿", 5e10, "at_least"),
    ("500亿以上", 5e10, "at_least"),
    ("500亿次以上", 5e10, "at_least"),
    ("达到500亿以上", 5e10, "at_least"),
    ("30多万亿", 30e12, "at_least"),
    ("三十多万亿", 30e12, "at_least"),
    ("1000多", 1000, "at_least"),
    ("1000多亿", 1000e8, "at_least"),
    ("1万余次", 1e4, "at_least"),
    ("500亿有余", 5e10, "at_least"),
    ("more than 980 trillion", 980e12, "at_least"),
    ("More than 980 trillion", 980e12, "at_least"),
    ("over 1.3 quadrillion", 1.3e15, "at_least"),
    ("above 500B", 5e11, "at_least"),
    ("at least 320", 320, "at_least"),
    ("exceeding 30 trillion", 30e12, "at_least"),
    ("> 30 trillion", 30e12, "at_least"),
    (">30T", 30e12, "at_least"),
    (">= 30T", 30e12, "at_least"),
    ("≥30T", 30e12, "at_least"),
    ("500B+", 5e11, "at_least"),
    ("500 billion or more", 5e11, "at_least"),
    ("不到 30 万亿", 30e12, "at_most"),
    ("不足30万亿", 30e12, "at_most"),
    ("少于 500 亿", 5e10, "at_most"),
    ("低于500亿", 5e10, "at_most"),
    ("不超过500亿", 5e10, "at_most"),
    ("500亿以下", 5e10, "at_most"),
    ("less than 30 trillion", 30e12, "at_most"),
    ("fewer than 320", 320, "at_most"),
    ("under 30 trillion", 30e12, "at_most"),
    ("below 30T", 30e12, "at_most"),
    ("up to 30T", 30e12, "at_most"),
    ("< 30 trillion", 30e12, "at_most"),
    ("≤30T", 30e12, "at_most"),
    ("约 30 万亿", 30e12, "about"),
    ("约30万亿", 30e12, "about"),
    ("大约 30 万亿", 30e12, "about"),
    ("近 30 万亿", 30e12, "about"),
    ("接近30万亿", 30e12, "about"),
    ("将近30万亿", 30e12, "about"),
    ("30万亿左右", 30e12, "about"),
    ("about 30 trillion", 30e12, "about"),
    ("around 30 trillion", 30e12, "about"),
    ("approximately 30 trillion", 30e12, "about"),
    ("approx. 30 trillion", 30e12, "about"),
    ("roughly 30T", 30e12, "about"),
    ("nearly 30T", 30e12, "about"),
    ("~30T", 30e12, "about"),
    ("≈ 30T", 30e12, "about"),
    ("～30万亿", 30e12, "about"),
    ("截至 30 万亿", 30e12, "exact"),
    ("达 30 万亿", 30e12, "exact"),
    ("达到 30 万亿", 30e12, "exact"),
    ("超过500亿以上", 5e10, "at_least"),
]

ALL_COUNTS = CORPUS_COUNTS + DIGIT_FORMS + CHINESE_UNITS + CHINESE_NUMERALS + ENGLISH + SCIENTIFIC


@pytest.mark.parametrize(("text", "value", "qualifier"), table(ALL_COUNTS))
def test_count_is_read_as_its_plain_value(text, value, qualifier):
    quantity = parse_quantity(text)
    assert quantity.kind == "count"
    assert quantity.value == pytest.approx(value, rel=1e-12, abs=1e-12)
    assert quantity.qualifier == qualifier


@pytest.mark.parametrize(("text", "value", "qualifier"), table(QUALIFIED_COUNTS))
def test_qualifier_words_before_or_after_a_count_are_understood(text, value, qualifier):
    quantity = parse_count(text)
    assert (quantity.value, quantity.qualifier) == (pytest.approx(value), qualifier)


# ---------------------------------------------------------------------------------------------------------
# Percent, points and ratios: (text, value, qualifier)
PERCENTS = [
    ("46.4%", 46.4, "exact"),
    ("49.2%", 49.2, "exact"),
    ("27%", 27, "exact"),
    ("17%", 17, "exact"),
    ("46.4 %", 46.4, "exact"),
    ("４６.４％", 46.4, "exact"),
    ("46.4％", 46.4, "exact"),
    ("百分之四十六点四", 46.4, "exact"),
    ("百分之46.4", 46.4, "exact"),
    ("百分之一百", 100, "exact"),
    ("46.4 percent", 46.4, "exact"),
    ("46.4 Percent", 46.4, "exact"),
    ("46.4 per cent", 46.4, "exact"),
    ("46.4pct", 46.4, "exact"),
    ("-3.5%", -3.5, "exact"),
    ("0.46%", 0.46, "exact"),
    ("104.2%", 104.2, "exact"),
    ("超过80%", 80, "at_least"),
    ("超80%", 80, "at_least"),
    ("40%多", 40, "at_least"),
    ("约 50%", 50, "about"),
    ("more than 49.2%", 49.2, "at_least"),
    ("less than 1%", 1, "at_most"),
    ("~50%", 50, "about"),
]

POINTS = [
    ("2.8 个百分点", 2.8, "exact"),
    ("2.8个百分点", 2.8, "exact"),
    ("2.8 百分点", 2.8, "exact"),
    ("两个百分点", 2, "exact"),
    ("-2.8 个百分点", -2.8, "exact"),
    ("2.8pp", 2.8, "exact"),
    ("2.8 pp", 2.8, "exact"),
    ("2.8 p.p.", 2.8, "exact"),
    ("2.8 percentage points", 2.8, "exact"),
    ("1 percentage point", 1, "exact"),
    ("2.8 pts", 2.8, "exact"),
    ("2.8 points", 2.8, "exact"),
    ("约 2.8 个百分点", 2.8, "about"),
    ("more than 2.8 percentage points", 2.8, "at_least"),
]

RATIOS = [
    ("4.7倍", 4.7, "exact"),
    ("4.7 倍", 4.7, "exact"),
    ("4.7 x", 4.7, "exact"),
    ("4.7x", 4.7, "exact"),
    ("4.7X", 4.7, "exact"),
    ("4.70×", 4.7, "exact"),
    ("4.70 ×", 4.7, "exact"),
    ("4.7 times", 4.7, "exact"),
    ("4.7-fold", 4.7, "exact"),
    ("7x", 7, "exact"),
    ("8 倍", 8, "exact"),
    ("1,234.50×", 1234.5, "exact"),
    ("三倍", 3, "exact"),
    ("近 5 倍", 5, "about"),
    ("接近 5 倍", 5, "about"),
    ("5倍多", 5, "at_least"),
    ("超过 4.70×", 4.7, "at_least"),
    ("about 4.70×", 4.7, "about"),
]


@pytest.mark.parametrize(("text", "value", "qualifier"), table(PERCENTS))
def test_percent_is_read_as_percentage_number(text, value, qualifier):
    assert parse_quantity(text) == Quantity(pytest.approx(value), "percent", qualifier, text.strip())


@pytest.mark.parametrize(("text", "value", "qualifier"), table(POINTS))
def test_percentage_points_are_their_own_kind(text, value, qualifier):
    assert parse_quantity(text) == Quantity(pytest.approx(value), "points", qualifier, text.strip())


@pytest.mark.parametrize(("text", "value", "qualifier"), table(RATIOS))
def test_ratio_is_read_from_bei_x_and_times(text, value, qualifier):
    assert parse_quantity(text) == Quantity(pytest.approx(value), "ratio", qualifier, text.strip())


# ---------------------------------------------------------------------------------------------------------
# Named behaviours.
def test_taiwan_zhao_is_ten_to_the_twelfth():
    assert parse_quantity("5兆").value == 5e12


def test_wan_yi_decimals_are_exact_floats():
    # Decimal arithmetic means 536.7万亿 compares equal to the literal callers write.
    assert parse_quantity("536.7万亿").value == 5.367e14
    assert parse_quantity("114.2万亿").value == 1.142e14


def test_full_width_comma_between_digit_groups_is_a_thousands_separator():
    assert parse_quantity("1，500万亿").value == 1.5e15


def test_capital_m_is_million():
    assert parse_quantity("20M").value == 2e7


def test_quantity_keeps_the_stripped_input_text():
    assert parse_quantity("  超过 30 万亿  ").text == "超过 30 万亿"


def test_negative_counts_are_read_and_left_to_callers_to_refuse():
    assert parse_count("-5 亿").value == -5e8


def test_da_and_jiezhi_alone_are_not_qualifiers():
    assert parse_quantity("截至 500 亿").qualifier == "exact"
    assert parse_quantity("达到 500 亿").qualifier == "exact"


def test_parse_count_refuses_a_percent_and_says_a_count_was_expected():
    with pytest.raises(UnitError, match="count") as raised:
        parse_count("49.2%")
    assert "49.2%" in raised.value.message


@pytest.mark.parametrize("text", table([("4.7倍",), ("2.8 个百分点",), ("百分之五",)]))
def test_parse_count_refuses_every_other_kind(text):
    with pytest.raises(UnitError, match="count"):
        parse_count(text)


def test_unit_error_is_also_a_value_error_for_generic_callers():
    with pytest.raises(ValueError):
        parse_quantity("abc")


# ---------------------------------------------------------------------------------------------------------
# Failures: every one raises UnitError quoting the input.
FAILURES = [
    ("",),
    ("   ",),
    ("abc",),
    ("tokens",),
    ("万亿",),
    ("亿",),
    ("百万",),
    ("亿万",),
    ("百千",),
    ("1.2.3",),
    ("1,5",),
    ("1,50万",),
    ("5 bananas",),
    ("5 zillion",),
    ("5 万 bananas",),
    ("NaN",),
    ("nan",),
    ("inf",),
    ("Infinity",),
    ("-inf",),
    ("1e400",),
    ("1e308 万亿",),
    ("10^400",),
    ("1.5e",),
    ("1.5×10",),
    ("%",),
    ("倍",),
    ("5 5",),
    ("5%%",),
    ("约500亿以上",),
    ("不到500亿以上",),
    ("GPT-5",),
    ("V3.1",),
    ("2025H1",),
    ("1Q25",),
    ("--5",),
    ("5-",),
    ("five million",),
    ("一些",),
    ("统一",),
]


@pytest.mark.parametrize("text", table(FAILURES))
def test_unreadable_input_raises_unit_error_quoting_it(text):
    with pytest.raises(UnitError) as raised:
        parse_quantity(text)
    assert f"「{text.strip()}」" in raised.value.message
    assert f'"{text.strip()}"' in raised.value.message


def test_error_message_is_bilingual():
    with pytest.raises(UnitError) as raised:
        parse_quantity("abc")
    assert raised.value.message == '无法识别数值「abc」 / Could not read a number in "abc"'


def test_overlong_input_is_refused_and_quoted_truncated_to_sixty_characters():
    text = "1" * 201
    with pytest.raises(UnitError) as raised:
        parse_quantity(text)
    assert "1" * 60 + "…" in raised.value.message
    assert "1" * 61 not in raised.value.message


def test_long_unreadable_input_is_quoted_truncated():
    text = "x" * 100
    with pytest.raises(UnitError) as raised:
        parse_quantity(text)
    assert "x" * 60 + "…" in raised.value.message


def test_input_of_exactly_two_hundred_characters_is_still_read():
    assert parse_quantity("5" + " " * 199).value == 5


# ---------------------------------------------------------------------------------------------------------
# find_quantities: (text, [(found substring, value, kind, qualifier), ...])
FIND_CASES = [
    ("536.7 万亿是多少 trillion", [("536.7 万亿", 536.7e12, "count", "exact")], "question-about-wan-yi"),
    ("文章说豆包月均 500 亿次,对吗?", [("500 亿", 5e10, "count", "exact")], "fact-check-question"),
    ("火山引擎以49.2%的市场份额", [("49.2%", 49.2, "percent", "exact")], "share-glued-to-chinese"),
    ("至少需要 320 张 GPU", [("320", 320, "count", "exact")], "bare-count-with-measure-word"),
    ("半年干了去年 4.7倍 的活儿", [("4.7倍", 4.7, "ratio", "exact")], "ratio-bei"),
    ("超过 30 万亿", [("超过 30 万亿", 30e12, "count", "at_least")], "chaoguo-qualifier"),
    (
        "Google processed more than 980 trillion tokens in June",
        [("more than 980 trillion", 980e12, "count", "at_least")],
        "english-more-than",
    ),
    (
        "截至今年 6 月底,日均 Token 消耗量已突破 30 万亿",
        [("突破 30 万亿", 30e12, "count", "at_least")],
        "month-end-is-a-date",
    ),
    (
        "相比2025年底的100万亿,三个月时间又增长了40%多",
        [("100万亿", 100e12, "count", "exact"), ("40%多", 40, "percent", "at_least")],
        "year-end-then-growth",
    ),
    (
        "到今年3月,我国日均Token(词元)调用量超过140万亿",
        [("超过140万亿", 140e12, "count", "at_least")],
        "month-then-chaoguo",
    ),
    (
        "9.7T monthly usage tokens to 480T per month - in just 1 year",
        [("9.7T", 9.7e12, "count", "exact"), ("480T", 480e12, "count", "exact")],
        "t-suffix-and-one-year",
    ),
    (
        "火山引擎以49.2%的市场份额位居第一,阿里云以27%的份额位列第二,百度智能云占17%排第三",
        [
            ("49.2%", 49.2, "percent", "exact"),
            ("27%", 27, "percent", "exact"),
            ("17%", 17, "percent", "exact"),
        ],
        "three-shares",
    ),
    (
        "2024年中国公有云大模型调用量,火山引擎以 46.4% 的市场份额",
        [("46.4%", 46.4, "percent", "exact")],
        "year-before-share",
    ),
    (
        "截至 2025 年 5 月,豆包大模型的日均 Tokens 调用量是 16.4 万亿次",
        [("16.4 万亿", 16.4e12, "count", "exact")],
        "spaced-year-and-month",
    ),
    ("今年五月的日均调用量为1200亿次", [("1200亿", 1200e8, "count", "exact")], "chinese-month-name"),
    ("半年的时间干了去年全年接近 5 倍的活儿", [("接近 5 倍", 5, "ratio", "about")], "jiejin-ratio"),
    ("相比今年5月底增长超80%", [("超80%", 80, "percent", "at_least")], "chao-percent"),
    (
        "processes over 1.3 quadrillion tokens per month",
        [("over 1.3 quadrillion", 1.3e15, "count", "at_least")],
        "over-quadrillion",
    ),
    (
        "两万亿和一千五百万亿",
        [("两万亿", 2e12, "count", "exact"), ("一千五百万亿", 1.5e15, "count", "exact")],
        "chinese-numerals-with-units",
    ),
    ("份额下降了两个百分点", [("两个百分点", 2, "points", "exact")], "chinese-numeral-points"),
    ("份额占百分之四十六点四", [("百分之四十六点四", 46.4, "percent", "exact")], "baifenzhi"),
    ("一些公司统一了口径", [], "yixie-and-tongyi-are-words"),
    ("第一名和十二家公司", [], "chinese-numerals-without-units"),
    ("2024", [], "bare-year"),
    ("In 2024 the market grew", [], "english-year"),
    ("2025 年", [], "year-with-nian"),
    ("2025H1 的份额", [], "half-year-period"),
    ("数据截至 2025-05", [], "year-month-date"),
    ("5 月的数据", [], "month"),
    ("7 月", [], "july"),
    ("May 2025", [], "english-month-year"),
    ("Q2 earnings", [], "quarter"),
    ("IDC 1Q25 report", [], "quarter-year"),
    ("H1 results", [], "half"),
    ("GPT-5 is out", [], "gpt-5"),
    ("DeepSeek-R1 全球爆火", [], "deepseek-r1"),
    ("DeepSeek V3.1 发布", [], "version-v3.1"),
    ("Seedream 4.0 发布", [], "seedream-4.0"),
    ("Qwen3-235B", [], "qwen-size"),
    ("第 3 名", [], "ordinal"),
    ("2 个异军突起的增长拐点", [("2", 2, "count", "exact")], "count-with-ge"),
    ("上半年 5.367e14 tokens", [("5.367e14", 5.367e14, "count", "exact")], "scientific-in-text"),
    ("１２００亿次", [("１２００亿", 1200e8, "count", "exact")], "full-width-digits-span-original"),
    ("大约 30 万亿左右", [("大约 30 万亿左右", 30e12, "count", "about")], "both-about-words"),
    ("500亿次以上", [("500亿次以上", 5e10, "count", "at_least")], "noun-then-yishang"),
    (
        "Gemini went from 9.7 trillion to 480 trillion",
        [("9.7 trillion", 9.7e12, "count", "exact"), ("480 trillion", 480e12, "count", "exact")],
        "english-two-counts",
    ),
    ("about 4.7x more", [("about 4.7x", 4.7, "ratio", "about")], "english-about-ratio"),
    ("down -2.8pp since 2024", [("-2.8pp", -2.8, "points", "exact")], "negative-points"),
    ("最近 5 万亿", [("5 万亿", 5e12, "count", "exact")], "zuijin-is-recently-not-about"),
    ("", [], "empty"),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for t, e, i in FIND_CASES])
def test_find_quantities_reports_each_quantity_with_its_span(text, expected):
    found = find_quantities(text)
    got = [(text[f.start : f.end], f.quantity.value, f.quantity.kind, f.quantity.qualifier) for f in found]
    assert got == [(s, pytest.approx(v), k, q) for s, v, k, q in expected]


def test_found_quantity_text_is_the_original_span():
    [found] = find_quantities("豆包 １２００亿次")
    assert found == Found(3, 8, Quantity(1200e8, "count", "exact", "１２００亿"))


def test_find_quantities_accepts_long_text():
    text = "超过 30 万亿。" * 100
    assert len(find_quantities(text)) == 100


# ---------------------------------------------------------------------------------------------------------
# Formatting: (value, zh, en)
COUNT_FORMATS = [
    (5.367e14, "536.7 万亿", "536.7 trillion"),
    (1.142e14, "114.2 万亿", "114.2 trillion"),
    (4.92e14, "492 万亿", "492 trillion"),
    (8.945e13, "89.45 万亿", "89.45 trillion"),
    (1.3e15, "1,300 万亿", "1.3 quadrillion"),
    (3.2e15, "3,200 万亿", "3.2 quadrillion"),
    (9.7e12, "9.7 万亿", "9.7 trillion"),
    (1.2e11, "1,200 亿", "120 billion"),
    (5e10, "500 亿", "50 billion"),
    (1e8, "1 亿", "100 million"),
    (2.5e6, "250 万", "2.5 million"),
    (1e4, "1 万", "10,000"),
    (9999, "9,999", "9,999"),
    (320, "320", "320"),
    (0, "0", "0"),
    (0.5, "0.5", "0.5"),
    (-5.367e14, "-536.7 万亿", "-536.7 trillion"),
    (5.3674e14, "536.7 万亿", "536.7 trillion"),
    (99_995_000, "1 亿", "100 million"),
    (1.23456e18, "1,235,000 万亿", "1,235 quadrillion"),
]


@pytest.mark.parametrize(("value", "zh", "en"), [pytest.param(*row, id=repr(row[0])) for row in COUNT_FORMATS])
def test_format_count_uses_the_largest_natural_unit(value, zh, en):
    assert (format_count(value, "zh"), format_count(value, "en")) == (zh, en)


def test_format_count_digits_sets_significant_digits():
    assert format_count(5.3674e14, "zh", digits=5) == "536.74 万亿"
    assert format_count(5.3674e14, "en", digits=2) == "540 trillion"


@pytest.mark.parametrize(
    ("qualifier", "zh", "en"),
    [
        ("exact", "30 万亿", "30 trillion"),
        ("at_least", "超过 30 万亿", "more than 30 trillion"),
        ("at_most", "不到 30 万亿", "less than 30 trillion"),
        ("about", "约 30 万亿", "about 30 trillion"),
    ],
    ids=readable,
)
def test_format_count_puts_qualifier_words_first(qualifier, zh, en):
    assert format_count(3e13, "zh", qualifier) == zh
    assert format_count(3e13, "en", qualifier) == en


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (49.2, "49.2%"),
        (27.0, "27%"),
        (104.16, "104.2%"),
        (0.456, "0.46%"),
        (0.5, "0.5%"),
        (-3.25, "-3.2%"),
        (-0.001, "0%"),
        (1234.5, "1,234.5%"),
        (46.4, "46.4%"),
    ],
)
def test_format_percent_keeps_one_decimal_or_two_below_one(value, text):
    assert format_percent(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (4.6996, "4.70×"),
        (38.4615, "38.46×"),
        (0.5, "0.50×"),
        (1234.5, "1,234.50×"),
        (-0.001, "0.00×"),
        (7, "7.00×"),
    ],
)
def test_format_ratio_always_has_two_decimals(value, text):
    assert format_ratio(value) == text


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        (2.8, "2.8 个百分点", "2.8 percentage points"),
        (-2.8, "-2.8 个百分点", "-2.8 percentage points"),
        (1, "1 个百分点", "1 percentage point"),
        (0.35, "0.35 个百分点", "0.35 percentage points"),
    ],
    ids=readable,
)
def test_format_points_is_signed_only_when_negative(value, zh, en):
    assert (format_points(value, "zh"), format_points(value, "en")) == (zh, en)


def test_percent_and_ratio_qualifiers_use_words_with_a_language_and_symbols_without():
    assert format_percent(49.2, "about", "zh") == "约 49.2%"
    assert format_percent(49.2, "at_least", "en") == "more than 49.2%"
    assert format_percent(49.2, "at_most") == "<49.2%"
    assert format_ratio(4.7, "about") == "~4.70×"


@pytest.mark.parametrize(
    ("quantity", "zh", "en"),
    [
        (Quantity(3e13, "count", "at_least"), "超过 30 万亿", "more than 30 trillion"),
        (Quantity(49.2, "percent"), "49.2%", "49.2%"),
        (Quantity(49.2, "percent", "about"), "约 49.2%", "about 49.2%"),
        (Quantity(2.8, "points", "at_most"), "不到 2.8 个百分点", "less than 2.8 percentage points"),
        (Quantity(4.6996, "ratio", "about"), "约 4.70×", "about 4.70×"),
    ],
    ids=["count", "percent", "percent-about", "points-at-most", "ratio-about"],
)
def test_format_quantity_dispatches_on_kind(quantity, zh, en):
    assert (format_quantity(quantity, "zh"), format_quantity(quantity, "en")) == (zh, en)


@pytest.mark.parametrize(
    ("qualifier", "zh", "en"),
    [
        ("exact", "", ""),
        ("at_least", "超过", "more than"),
        ("at_most", "不到", "less than"),
        ("about", "约", "about"),
    ],
    ids=readable,
)
def test_qualifier_words_in_both_languages(qualifier, zh, en):
    assert (qualifier_words(qualifier, "zh"), qualifier_words(qualifier, "en")) == (zh, en)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_formatting_a_non_finite_number_is_a_bug_not_a_user_error(value):
    for write in (
        lambda v: format_count(v, "zh"),
        format_percent,
        format_ratio,
        lambda v: format_points(v, "en"),
    ):
        with pytest.raises(ValueError):
            write(value)


# ---------------------------------------------------------------------------------------------------------
# Round trips: whatever we print, we can read back.
langs = st.sampled_from(["zh", "en"])
qualifiers = st.sampled_from(["exact", "at_least", "at_most", "about"])
# Values with at most four significant digits in [1, 1e18): a four-digit mantissa times a power of ten.
four_digit_counts = st.builds(
    lambda mantissa, exponent: float(Decimal(mantissa).scaleb(exponent)),
    st.integers(1, 9999),
    st.integers(-3, 14),
).filter(lambda v: 1 <= v < 1e18)
# Percent and points print one decimal (two below 1), ratios two: those are the values that survive.
one_decimal = st.integers(-(10**6), 10**6).map(lambda n: n / 10)
two_decimals_below_one = st.integers(-99, 99).map(lambda n: n / 100)
shares = one_decimal | two_decimals_below_one
ratios = st.integers(-(10**7), 10**7).map(lambda n: n / 100)


def same(a, b):
    return a == pytest.approx(b, rel=1e-9, abs=1e-12)


@given(four_digit_counts, langs, qualifiers)
def test_formatted_count_reads_back_to_the_same_value_and_qualifier(value, lang, qualifier):
    quantity = parse_count(format_count(value, lang, qualifier))
    assert same(quantity.value, value)
    assert quantity.qualifier == qualifier


@given(four_digit_counts, langs, qualifiers)
def test_formatted_negative_count_reads_back(value, lang, qualifier):
    assert same(parse_count(format_count(-value, lang, qualifier)).value, -value)


@given(shares, langs, qualifiers)
def test_formatted_percent_reads_back(value, lang, qualifier):
    quantity = parse_quantity(format_percent(value, qualifier, lang))
    assert (quantity.kind, quantity.qualifier) == ("percent", qualifier)
    assert same(quantity.value, value)


@given(shares, qualifiers)
def test_percent_with_symbol_qualifier_reads_back(value, qualifier):
    quantity = parse_quantity(format_percent(value, qualifier))
    assert (quantity.kind, quantity.qualifier) == ("percent", qualifier)
    assert same(quantity.value, value)


@given(shares, langs, qualifiers)
def test_formatted_points_read_back(value, lang, qualifier):
    quantity = parse_quantity(format_points(value, lang, qualifier))
    assert (quantity.kind, quantity.qualifier) == ("points", qualifier)
    assert same(quantity.value, value)


@given(ratios, st.sampled_from(["zh", "en", None]), qualifiers)
def test_formatted_ratio_reads_back(value, lang, qualifier):
    quantity = parse_quantity(format_ratio(value, qualifier, lang))
    assert (quantity.kind, quantity.qualifier) == ("ratio", qualifier)
    assert same(quantity.value, value)


# Up to 999.9: one decimal and four significant digits, so every kind prints it exactly.
every_kind_value = st.integers(0, 9999).map(lambda n: n / 10)


@given(st.sampled_from(["count", "percent", "points", "ratio"]), every_kind_value, langs, qualifiers)
def test_format_quantity_then_parse_gives_the_quantity_back(kind, value, lang, qualifier):
    written = format_quantity(Quantity(value, kind, qualifier), lang)
    quantity = parse_quantity(written)
    assert (quantity.kind, quantity.qualifier) == (kind, qualifier)
    assert same(quantity.value, value)


@given(four_digit_counts, langs, qualifiers)
def test_formatted_count_is_found_whole_in_a_sentence(value, lang, qualifier):
    written = format_count(value, lang, qualifier)
    sentence = f"据报道，{written}。" if lang == "zh" else f"Reports say {written}."
    [found] = find_quantities(sentence)
    assert same(found.quantity.value, value)
    assert found.quantity.qualifier == qualifier


@given(
    st.text(
        alphabet="0123456789.,%-+ 万亿兆千百十点一二两多以上约超过倍x×e^TBMK个百分之pertcimsovQH年月第",
        max_size=20,
    )
)
def test_parse_either_reads_a_finite_number_or_raises_unit_error(text):
    try:
        quantity = parse_quantity(text)
    except UnitError:
        return
    assert quantity.value == quantity.value and abs(quantity.value) != float("inf")


@given(st.text(max_size=60))
def test_find_quantities_never_fails_and_spans_lie_inside_the_text(text):
    for found in find_quantities(text):
        assert 0 <= found.start < found.end <= len(text)
        assert found.quantity.text == text[found.start : found.end].strip()


@pytest.mark.parametrize(
    ("text", "value"),
    [("2025 年:1,300 万亿", 1.3e15), ("合计:1,300 万亿", 1.3e15), ("x:1,300 万亿", 1.3e15)],
)
def test_a_number_after_a_colon_is_read_whole_not_from_inside_its_thousands_group(text, value):
    (found,) = find_quantities(text)
    assert found.quantity.value == value


def test_a_time_of_day_is_not_a_quantity():
    assert find_quantities("12:30 开会") == []
