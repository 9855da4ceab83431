"""The one home for reading and writing quantities: "536.7万亿", "9.7T", "49.2%", "2.8 个百分点", "4.70×".

Parsing understands both languages (Arabic, full-width and Chinese numerals, 万/亿/兆, K/M/B/T, scientific
notation, qualifiers such as 超过 / more than); formatting is the inverse, so format → parse round-trips.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from decimal import Decimal, DecimalException
from typing import Literal

from knowledge.errors import UnitError

Kind = Literal["count", "percent", "ratio", "points"]
Qualifier = Literal["exact", "at_least", "at_most", "about"]
Lang = Literal["zh", "en"]

MAX_INPUT_CHARS = 200
_PRE_WINDOW = 40  # qualifier words and model names are short; look this far back for them
_QUOTE_CHARS = 60


@dataclass(frozen=True)
class Quantity:
    """A number read from text; `value` is plain (5.367e14 for 536.7万亿, 49.2 for 49.2%)."""

    value: float
    kind: Kind
    qualifier: Qualifier = "exact"
    text: str = ""


@dataclass(frozen=True)
class Found:
    """A quantity located in free text; `text[start:end]` is what it was read from."""

    start: int
    end: int
    quantity: Quantity


# ---------------------------------------------------------------------------------------------------------
# Normalisation. One character in, one character out, so spans found in the normalised text are valid
# in the original: full-width forms (１２００亿, ４６.４％, 1，500) become ASCII; odd minus signs and
# spaces become plain ones.
_NORMALISE = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {
    0x3000: 0x20,
    0x00A0: 0x20,
    0x2009: 0x20,
    0x202F: 0x20,
    0x2212: ord("-"),
    0x301C: ord("~"),
}


def _normalise(text: str) -> str:
    return text.translate(_NORMALISE)


# ---------------------------------------------------------------------------------------------------------
# Vocabulary.
_CN_DIGITS = {
    **dict.fromkeys("零〇", 0),
    **dict.fromkeys("一壹", 1),
    **dict.fromkeys("二两兩贰貳", 2),
    **dict.fromkeys("三叁參", 3),
    **dict.fromkeys("四肆", 4),
    **dict.fromkeys("五伍", 5),
    **dict.fromkeys("六陆陸", 6),
    **dict.fromkeys("七柒", 7),
    **dict.fromkeys("八捌", 8),
    **dict.fromkeys("九玖", 9),
}
_CN_SMALL = {**dict.fromkeys("十拾", 10), **dict.fromkeys("百佰", 100), **dict.fromkeys("千仟", 1000)}
_CN_BIG = {
    **dict.fromkeys("万萬", Decimal(10) ** 4),
    **dict.fromkeys("亿億", Decimal(10) ** 8),
    "兆": Decimal(10) ** 12,
}
_EN_WORDS = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12, "quadrillion": 15}
_EN_ABBREV = {"k": 3, "m": 6, "mn": 6, "b": 9, "bn": 9, "t": 12, "tn": 12}
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")

_DIG = "".join(_CN_DIGITS)
_SMALL = "".join(_CN_SMALL)
_BIG = "".join(_CN_BIG)
_SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹"

# Arabic numbers: thousands groups of exactly three, a decimal part; never the middle of "1.2.3" or "V3.1".
_AR = r"(?:(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)(?![.,]?\d)"
_SCI = rf"(?:[eE][+-]?\d{{1,4}}|\s*[×xX*·]\s*10\s*(?:\^\s*[+-]?\d{{1,4}}|[⁺⁻]?[{_SUP}]{{1,4}}))"
_POW = rf"10(?:\^[+-]?\d{{1,4}}|[⁺⁻]?[{_SUP}]{{1,4}})"
_MAG = f"(?:[十拾千仟{_BIG}]|[百佰](?!分))"  # not the 百 of 百分点
_CORE_AR = rf"{_AR}{_SCI}?(?:\s*(?:[多余](?!少))?\s*{_MAG}+(?:{_AR}{_MAG}+)*)?"
# A Chinese numeral starts with a digit or a leading 十 (十二); 点 only before a digit; 多 only before a unit.
_CORE_CN = rf"[{_DIG}十拾](?:[{_DIG}{_SMALL}{_BIG}]|[点點](?=[{_DIG}])|[多余](?=[{_SMALL}{_BIG}]))*"
_CORE = rf"(?:{_POW}|{_CORE_AR}|{_CORE_CN})"

_EN_MAG = (
    r"(?:\s*(?i:thousand|million|billion|trillion|quadrillion)s?(?![A-Za-z])"
    r"|\s*(?i:bn|mn|tn)(?![A-Za-z])|[KkMBbTt](?![A-Za-z0-9]))"
)
_KIND_POINTS = r"个?百分点|(?i:percentage\s+points?|pp|p\.p\.|pts?|points?)(?![A-Za-z])"
_KIND_PERCENT = r"%|(?i:per\s?cent|pct)(?![A-Za-z])"
_KIND_RATIO = r"倍|×|[xX](?![A-Za-z0-9])|(?i:times|-?fold)(?![A-Za-z])"
_KIND = rf"\s*(?:(?P<points>{_KIND_POINTS})|(?P<percent>{_KIND_PERCENT})|(?P<ratio>{_KIND_RATIO}))"


def _en(words: str) -> str:
    """English words only count when they stand alone ("over", not "moreover")."""
    return rf"(?<![A-Za-z])(?i:{words})(?![A-Za-z])"


_PRE: dict[Qualifier, str] = {
    "at_least": "不少于|不低于|超过|超出|超|逾|突破|高于|多于|大于|至少|起码|>=|≥|>|"
    + _en(r"more\s+than|over|above|at\s+least|exceeding|in\s+excess\s+of|upwards\s+of|greater\s+than"),
    "at_most": "不超过|不到|不足|少于|低于|小于|未满|至多|最多|<=|≤|<|"
    + _en(r"less\s+than|fewer\s+than|under|below|at\s+most|up\s+to|no\s+more\s+than"),
    "about": "大约|约为|约合|约|接近|将近|(?<![最附])近|大概|差不多|~|≈|∼|"
    + _en(r"about|around|approximately|approx\.?|roughly|nearly|almost|close\s+to"),
}
_POST: dict[Qualifier, str] = {
    "at_least": r"以上|有余|多(?!少)|余(?!额)|出头|\+|" + _en(r"or\s+more|and\s+up|plus"),
    "at_most": "以下|以内|之内|不到|" + _en(r"or\s+less|or\s+fewer"),
    "about": "左右|上下|" + _en(r"or\s+so|-?ish"),
}
_FILLER = r"达到|达|截至|共计|共|合计|总计|累计|为"
_NOUN = r"(?i:tokens?)(?![A-Za-z])|词元|次|个"
_PRE_ANY = "|".join(_PRE.values())
_POST_ANY = "|".join(_POST.values())

# A number must not continue a word, a version or a date: "V3", "GPT-5", "2025-05", "1Q25", "3.1".
# Not inside a word, a time ("12:30") or a thousands group ("1,300" must not yield "300").
_START = r"(?<![A-Za-z0-9_.\-+/^])(?<!\d:)(?<!\d,)"
_BODY = rf"{_START}(?P<sign>[-+]|负)?(?P<pct>百分之\s*)?(?P<core>{_CORE})(?P<en_mag>{_EN_MAG})?(?:{_KIND})?"
# parse_quantity reads head, body and tail in turn; find_quantities looks for the head before a body.
_HEAD = rf"\s*(?:(?:{_FILLER})\s*)?(?:(?P<pre>{_PRE_ANY})\s*)?(?:(?:{_FILLER})\s*)?"
_PRE_BEFORE = rf"(?:{_PRE_ANY})\s*$"
_PARSE_TAIL = rf"(?:\s*(?:{_NOUN}|{_POST_ANY}))*\s*"
_FIND_TAIL = rf"(?:(?:\s*(?:{_NOUN}))*\s*(?:{_POST_ANY}))?"
_TAIL_ITEM = rf"\s*(?:{_NOUN}|(?P<post>{_POST_ANY}))"
_CORE_TOKEN = (
    rf"\s+|(?P<pow>{_POW})|(?P<ar>{_AR})(?P<sci>{_SCI})?|(?P<digit>[{_DIG}])|(?P<small>[{_SMALL}])"
    rf"|(?P<big>[{_BIG}])|[点點](?P<frac>[{_DIG}]+)|(?P<more>[多余])"
)
_CORE_TOKEN_KINDS = ("pow", "ar", "digit", "small", "big", "frac", "more")


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # Compiled on first use, not at import: the big patterns take tens of milliseconds to compile and this
    # module sits on the CLI's import path.
    return re.compile(pattern)


# ---------------------------------------------------------------------------------------------------------
# Errors quote the input so the user sees which number was not understood.
def _quote(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + "…"


def _unreadable(text: str, zh: str = "无法识别数值", en: str = "Could not read a number in") -> UnitError:
    return UnitError(f'{zh}「{_quote(text)}」 / {en} "{_quote(text)}"')


# ---------------------------------------------------------------------------------------------------------
# Evaluating a numeric core such as "536.7 万亿", "一百一十四点二万亿", "1.5千万亿", "3亿5000万", "1.5×10¹⁵".
class _CoreReader:
    """Reads a Chinese-style numeral: small units (十百千) build a section, big units (万亿兆) scale it."""

    def __init__(self) -> None:
        # Each part remembers the big unit that scaled it, so 万 then 亿 (万亿) scales everything below 亿.
        self.parts: list[tuple[Decimal, Decimal]] = []
        self.section = Decimal(0)
        self.number: Decimal | None = None
        self.previous = ""
        self.more = False

    def digit(self, d: int) -> None:
        # Consecutive digits are positional (二〇二五, or 零五 in 一千零五).
        seq = self.previous == "digit" and self.number is not None
        self.number = self.number * 10 + d if seq and self.number is not None else Decimal(d)

    def small(self, unit: int, text: str) -> None:
        if self.previous == "small":
            raise _unreadable(text)
        if self.number is None and not (unit == 10 and self.previous in ("", "big")):
            raise _unreadable(text)  # only 十 may stand for 一十 (十二, 二十万十)
        self.section += (self.number if self.number is not None else Decimal(1)) * unit
        self.number = None

    def big(self, unit: Decimal, text: str) -> None:
        amount = self.section + (self.number or 0)
        absorbed = self.number is not None or self.section != 0
        while self.parts and self.parts[-1][1] < unit:
            amount += self.parts.pop()[0]
            absorbed = True
        if not absorbed:
            raise _unreadable(text)  # 亿万 or a unit with nothing before it
        self.parts.append((amount * unit, unit))
        self.section, self.number = Decimal(0), None

    def total(self) -> Decimal:
        return sum((amount for amount, _ in self.parts), Decimal(0)) + self.section + (self.number or 0)


def _read_arabic(number: str, sci: str | None) -> Decimal:
    value = Decimal(number.replace(",", ""))
    if not sci:
        return value
    exponent = re.sub(r"^.*?(?:[eE]|10\s*\^?)\s*", "", sci.strip()).translate(_SUPERSCRIPTS)
    return value.scaleb(int(exponent.replace(" ", "")))


def _read_core(core: str, text: str) -> tuple[Decimal, bool]:
    """The value of a numeric core and whether it contained 多/余 (30多万亿 is at least 30万亿)."""
    reader = _CoreReader()
    for token in _compiled(_CORE_TOKEN).finditer(core):
        kind = next((name for name in _CORE_TOKEN_KINDS if token[name] is not None), None)
        if kind in ("pow", "ar"):
            if reader.number is not None:
                raise _unreadable(text)
            pow_text = token["pow"]
            reader.number = _read_arabic("1", pow_text) if pow_text else _read_arabic(token["ar"], token["sci"])
        elif kind == "digit":
            reader.digit(_CN_DIGITS[token["digit"]])
        elif kind == "small":
            reader.small(_CN_SMALL[token["small"]], text)
        elif kind == "big":
            reader.big(_CN_BIG[token["big"]], text)
        elif kind == "frac":
            digits = "".join(str(_CN_DIGITS[c]) for c in token["frac"])
            reader.number = (reader.number or Decimal(0)) + Decimal("0." + digits)
        elif kind == "more":
            reader.more = True
        if kind is not None:
            reader.previous = "digit" if kind in ("digit", "frac", "ar", "pow") else kind
    return reader.total(), reader.more


def _en_scale(en_mag: str | None) -> int:
    if not en_mag:
        return 0
    word = en_mag.strip().lower()
    return _EN_WORDS.get(word.removesuffix("s"), _EN_ABBREV.get(word, 0))


def _qualifier_of(words: str | None, table: dict[Qualifier, str]) -> Qualifier:
    if not words:
        return "exact"
    for qualifier, pattern in table.items():
        if re.fullmatch(pattern, words.strip()):
            return qualifier
    return "exact"


def _merge(qualifiers: list[Qualifier], text: str) -> Qualifier:
    distinct = {q for q in qualifiers if q != "exact"}
    if len(distinct) > 1:
        raise _unreadable(text, "限定词互相矛盾", "Contradictory qualifiers in")
    return distinct.pop() if distinct else "exact"


def _tail_qualifiers(tail: str) -> list[Qualifier]:
    return [_qualifier_of(m["post"], _POST) for m in _compiled(_TAIL_ITEM).finditer(tail) if m["post"]]


def _quantity(body: re.Match[str], pre: str | None, tail: str, original: str) -> Quantity:
    """The Quantity described by a body match and the qualifier words around it; errors quote `original`."""
    is_percent_of = bool(body["pct"])  # 百分之…
    if is_percent_of and (body["en_mag"] or body["percent"] or body["points"] or body["ratio"]):
        raise _unreadable(original)
    try:
        value, more = _read_core(body["core"], original)
        value = value.scaleb(_en_scale(body["en_mag"]))
        number = float(-value if body["sign"] in ("-", "负") else value)
    except (DecimalException, ValueError, OverflowError) as error:
        raise _unreadable(original) from error
    if not math.isfinite(number):
        raise _unreadable(original, "数值超出范围", "Number out of range in")
    kind: Kind = "count"
    if is_percent_of or body["percent"]:
        kind = "percent"
    elif body["points"]:
        kind = "points"
    elif body["ratio"]:
        kind = "ratio"
    qualifiers: list[Qualifier] = [
        _qualifier_of(pre, _PRE),
        *_tail_qualifiers(tail),
        "at_least" if more else "exact",
    ]
    return Quantity(value=number, kind=kind, qualifier=_merge(qualifiers, original), text=original.strip())


# ---------------------------------------------------------------------------------------------------------
# Public parsing.
def parse_quantity(text: str) -> Quantity:
    """Reads a string that is exactly one quantity (with qualifiers and words like tokens/次 around it)."""
    if len(text) > MAX_INPUT_CHARS:
        raise _unreadable(text, f"输入过长（超过 {MAX_INPUT_CHARS} 字符）", "Input too long to be a number:")
    normalised = _normalise(text)
    head = _compiled(_HEAD).match(normalised)
    body = _compiled(_BODY).match(normalised, head.end()) if head else None
    tail = _compiled(_PARSE_TAIL).fullmatch(normalised, body.end()) if body else None
    if head is None or body is None or tail is None:
        raise _unreadable(text)
    return _quantity(body, head["pre"], tail.group(), text)


def parse_count(text: str) -> Quantity:
    """Like parse_quantity, but the quantity must be a count (536.7万亿), not a percent, ratio or points."""
    quantity = parse_quantity(text)
    if quantity.kind != "count":
        raise _unreadable(text, "这里需要一个数量（如 536.7万亿）", "Expected a count (like 5 trillion), got")
    return quantity


# Date and period parts that follow a bare number: 2025 年, 5 月, 6 月底, 1 year.
_DATE_AFTER_RE = re.compile(
    r"\s*(?:年|月|日|号|季度|季|周|天|" + _en(r"years?|months?|days?|weeks?|quarters?") + ")"
)
_GLUED_AFTER_RE = re.compile(r"[A-Za-z_]|[-/:.][A-Za-z0-9]")
_NOUN_AFTER_RE = re.compile(rf"\s*(?:{_NOUN})")
_NAME_BEFORE_RE = re.compile(r"(?<![A-Za-z])[A-Z][A-Za-z]*[ ]$")  # "Seedream 4.0", "May 20"
_ORDINAL_BEFORE_RE = re.compile(r"第\s*$")
_CN_START_RE = re.compile(f"[{_DIG}十拾]")


def _is_quantity_in_context(body: re.Match[str], qualified: bool, text: str) -> bool:
    """Free-text rules that keep dates, periods, ordinals, versions and model names out of the results."""
    core = body["core"]
    has_kind = bool(body["pct"] or body["percent"] or body["points"] or body["ratio"])
    if _CN_START_RE.match(core):
        return has_kind or bool(re.search(f"[{_BIG}]", core))  # not 一些, 统一, 十二, 两个
    if has_kind or body["en_mag"] or re.search(_MAG, core):
        return True
    end = body.end("core")
    if _DATE_AFTER_RE.match(text, end) or _GLUED_AFTER_RE.match(text, end):
        return False
    window = max(0, body.start() - _PRE_WINDOW)  # looking back only this far keeps long texts linear
    if _ORDINAL_BEFORE_RE.search(text, window, body.start()):
        return False  # 第 3 名 is an ordinal
    if qualified or _NOUN_AFTER_RE.match(text, end):
        return True
    if re.fullmatch(r"19\d\d|20\d\d|2100", core):
        return False  # a bare year
    return not _NAME_BEFORE_RE.search(text, window, body.start())


def find_quantities(text: str) -> list[Found]:
    """Every quantity in free text, Chinese or English, with its span; dates and model names are skipped."""
    normalised = _normalise(text)
    found: list[Found] = []
    for body in _compiled(_BODY).finditer(normalised):
        if found and body.start() < found[-1].end:
            continue  # inside the previous quantity's trailing words
        look_from = max(0, body.start() - _PRE_WINDOW, found[-1].end if found else 0)
        pre = _compiled(_PRE_BEFORE).search(normalised, look_from, body.start())
        if not _is_quantity_in_context(body, pre is not None, normalised):
            continue
        tail = _compiled(_FIND_TAIL).match(normalised, body.end())
        start, end = (pre.start() if pre else body.start()), (tail.end() if tail else body.end())
        try:
            quantity = _quantity(body, pre.group() if pre else None, tail.group() if tail else "", text[start:end])
        except UnitError:
            continue  # free text may hold something number-like that is not one (亿万); skip it
        found.append(Found(start=start, end=end, quantity=quantity))
    return found


# ---------------------------------------------------------------------------------------------------------
# Formatting.
_QUALIFIER_WORDS: dict[Lang, dict[Qualifier, str]] = {
    "zh": {"exact": "", "at_least": "超过", "at_most": "不到", "about": "约"},
    "en": {"exact": "", "at_least": "more than", "at_most": "less than", "about": "about"},
}
# Without a language, percent and ratio qualifiers are written as symbols, which read in either language.
_QUALIFIER_SYMBOLS: dict[Qualifier, str] = {"exact": "", "at_least": ">", "at_most": "<", "about": "~"}
_ZH_UNITS = ((1e12, "万亿"), (1e8, "亿"), (1e4, "万"))
_EN_UNITS = ((1e15, "quadrillion"), (1e12, "trillion"), (1e9, "billion"), (1e6, "million"))


def qualifier_words(qualifier: Qualifier, lang: Lang) -> str:
    """The words that put a qualifier into a sentence: 超过 / more than; "" for exact."""
    return _QUALIFIER_WORDS[lang][qualifier]


def _qualified(text: str, qualifier: Qualifier, lang: Lang | None) -> str:
    if lang is None:
        return _QUALIFIER_SYMBOLS[qualifier] + text
    words = qualifier_words(qualifier, lang)
    return f"{words} {text}" if words else text


def _require_finite(value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"cannot format a non-finite number: {value!r}")


def _fixed(value: float, decimals: int) -> str:
    """Thousands separators, at most `decimals` decimals, trailing zeros dropped, never "-0"."""
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "0") else text


def _significant(value: float, digits: int) -> str:
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return _fixed(value, decimals)


def _short(value: float) -> str:
    """One decimal is enough for shares and points; below 1 a second one keeps 0.35 from becoming 0.3."""
    return _fixed(value, 2 if abs(value) < 1 else 1)


def format_count(value: float, lang: Lang, qualifier: Qualifier = "exact", digits: int = 4) -> str:
    """536.7 万亿 / 536.7 trillion: the largest unit keeping the number >= 1, `digits` significant."""
    _require_finite(value)
    if digits < 1:
        raise ValueError("digits must be at least 1")
    # Round first, so 99,995,000 becomes 1 亿 rather than 10,000 万.
    rounded = float(f"{value:.{digits - 1}e}")
    text = _significant(rounded, digits)
    for scale, name in _ZH_UNITS if lang == "zh" else _EN_UNITS:
        if abs(rounded) >= scale:
            text = f"{_significant(rounded / scale, digits)} {name}"
            break
    return _qualified(text, qualifier, lang)


def format_percent(value: float, qualifier: Qualifier = "exact", lang: Lang | None = None) -> str:
    """49.2 → "49.2%", 27.0 → "27%", 0.456 → "0.46%"; qualifiers in `lang` words, or symbols without one."""
    _require_finite(value)
    return _qualified(f"{_short(value)}%", qualifier, lang)


def format_points(value: float, lang: Lang, qualifier: Qualifier = "exact") -> str:
    """2.8 → "2.8 个百分点" / "2.8 percentage points"; negative values keep their sign."""
    _require_finite(value)
    number = _short(value)
    unit = {"zh": "个百分点", "en": "percentage points"}[lang]
    if lang == "en" and number in ("1", "-1"):
        unit = "percentage point"
    return _qualified(f"{number} {unit}", qualifier, lang)


def format_ratio(value: float, qualifier: Qualifier = "exact", lang: Lang | None = None) -> str:
    """4.6996 → "4.70×": always two decimals, so ratios line up in tables."""
    _require_finite(value)
    text = f"{value:,.2f}"
    if text == "-0.00":
        text = "0.00"
    return _qualified(f"{text}×", qualifier, lang)


def format_quantity(quantity: Quantity, lang: Lang) -> str:
    """Writes any Quantity in `lang`, qualifier words included."""
    value, qualifier = quantity.value, quantity.qualifier
    if quantity.kind == "percent":
        return format_percent(value, qualifier, lang)
    if quantity.kind == "points":
        return format_points(value, lang, qualifier)
    if quantity.kind == "ratio":
        return format_ratio(value, qualifier, lang)
    return format_count(value, lang, qualifier)
