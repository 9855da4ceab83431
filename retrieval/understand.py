"""Understand a market question: its language, entities, measure, periods, numbers and intent.

Pure and rule-based: it reads signals from the text; `plan.py` resolves them against the data.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from knowledge.errors import UnitError
from knowledge.facts import Period
from knowledge.loaders import Entity
from knowledge.units import Found, Quantity, find_quantities, parse_quantity
from retrieval import vocabulary as v

Lang = Literal["zh", "en"]
Measure = Literal["share", "daily", "monthly", "volume"]
Intent = Literal[
    "value",
    "ratio",
    "difference",
    "growth",
    "sum",
    "rest",
    "average",
    "projection",
    "ranking",
    "latest",
    "series",
    "convert",
    "why",
    "claim",
    "unknown",
]

_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class PeriodMention:
    """A period as the question wrote it; `year` is None when the text left it out ("7 月")."""

    kind: Literal["year", "half", "quarter", "month"]
    year: int | None
    index: int
    text: str
    start: int
    relative: str = ""  # the relative word it came from (去年, last year), resolved against today

    def period(self, year: int | None = None) -> Period:
        """The period meant, with `year` filled in when the text left it out."""
        chosen = self.year if year is None else year
        if chosen is None:
            raise ValueError(f"{self.text!r} has no year; pass one")
        return Period(self.kind, chosen, self.index)

    def canonical(self, year: int | None = None) -> str:
        return str(self.period(year))


@dataclass(frozen=True)
class Query:
    """Everything the rules read from one question."""

    text: str
    norm: str
    lang: Lang
    today: date
    entities: tuple[str, ...] = ()
    china_mentioned: bool = False
    unknown_vendors: tuple[tuple[str, str], ...] = ()
    measures: frozenset[str] = frozenset()
    periods: tuple[PeriodMention, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    intent: Intent = "unknown"
    cues: frozenset[str] = field(default_factory=frozenset)
    rank: int | None = None
    target_unit: str = ""
    unreadable: str = ""  # the units parser's message for a number in a unit it cannot read

    def has(self, cue: str) -> bool:
        return cue in self.cues


def normalize(text: str) -> str:
    """NFKC (full-width digits and punctuation to ASCII), lower case, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"\s+", " ", text).strip()


def detect_language(text: str) -> Lang:
    return "zh" if _CJK.search(text) else "en"


def contains_any(norm: str, words: Iterable[str]) -> bool:
    plain, latin = _word_matcher(tuple(words))
    return any(word in norm for word in plain) or (latin is not None and latin.search(norm) is not None)


@functools.lru_cache(maxsize=1024)
def _word_matcher(words: tuple[str, ...]) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    """Chinese words (and those not starting with a letter or digit) as substrings; Latin words as one
    compiled pattern on word boundaries, so "may" does not fire inside "maybe". Built once per word list:
    a question is checked against every list, and a regex per word cost a third of the answer time."""
    plain = tuple(word for word in words if _CJK.search(word) or not word[:1].isalnum())
    latin = sorted({word.strip() for word in words if word not in plain}, key=len, reverse=True)
    if not latin:
        return plain, None
    return plain, re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, latin)) + r")(?![a-z])")


def _word_in(word: str, norm: str) -> bool:
    return contains_any(norm, (word,))


# --- entities ---------------------------------------------------------------------------------------------


def entity_patterns(entities: Sequence[Entity]) -> list[tuple[str, str]]:
    """(alias, entity id) pairs, longest alias first so 阿里云 wins over 阿里."""
    pairs: list[tuple[str, str]] = []
    for entity in entities:
        names = {entity.name_zh, entity.name_en, re.sub(r"\s*\(.*?\)", "", entity.name_en), *entity.aliases}
        pairs += [(normalize(name), entity.id) for name in names if name and normalize(name) not in v.CHINA_WORDS]
    return sorted(set(pairs), key=lambda pair: -len(pair[0]))


def find_entities(norm: str, patterns: Sequence[tuple[str, str]] | EntityMatcher) -> tuple[list[str], str]:
    """Entity ids in order of first mention, and the text with those mentions blanked out."""
    matcher = patterns if isinstance(patterns, EntityMatcher) else EntityMatcher(patterns)
    found: list[tuple[int, str]] = []
    pending, k = matcher.candidates(norm), 0
    while k < len(pending):
        i, k = pending[k], k + 1
        matched = False
        for match in matcher.regex(i).finditer(norm):
            found.append((match.start(), matcher.patterns[i][1]))
            norm, matched = _blank(norm, match.start(), match.end()), True
        if matched:  # the blanked text may rule names in (across a blank) or out: look again
            pending, k = [j for j in matcher.candidates(norm) if j > i], 0
    if len(norm) <= FUZZY_MAX_CHARS:
        for start, end, entity_id in matcher.fuzzy_mentions(norm):
            found.append((start, entity_id))
            norm = _blank(norm, start, end)
    ordered: list[str] = []
    for _, entity_id in sorted(found):
        if entity_id not in ordered:
            ordered.append(entity_id)
    return ordered, norm


class EntityMatcher:
    """Entity names prepared once for `find_entities`, so that a question costs the same with thousands of
    entities as with a few: patterns compiled, names indexed by their first two characters (a name can only
    match a text that contains it, spaces aside), misspelling candidates found through a deletion index.
    Matches exactly as trying every pattern in order would."""

    def __init__(self, patterns: Sequence[tuple[str, str]]) -> None:
        self.patterns = list(patterns)
        self._regexes: dict[int, re.Pattern[str]] = {}
        self._by_start: dict[str, list[int]] = {}
        self._always: list[int] = []
        self._cjk_by_first: dict[str, list[int]] = {}
        for i, (alias, _) in enumerate(self.patterns):
            compact = _SPACES.sub("", alias)
            if compact:
                self._by_start.setdefault(compact[:2], []).append(i)
            else:
                self._always.append(i)
            if _CJK.search(alias) and len(alias) >= 4:
                self._cjk_by_first.setdefault(alias[0], []).append(i)
        self._latin = list(_latin_names(self.patterns).items())
        self._deletions: dict[str, list[int]] | None = None

    @classmethod
    def of(cls, entities: Sequence[Entity]) -> EntityMatcher:
        return cls(entity_patterns(entities))

    def regex(self, i: int) -> re.Pattern[str]:
        """The compiled pattern of `patterns[i]` (compiled on first use: most names are never tried)."""
        found = self._regexes.get(i)
        if found is None:
            found = self._regexes[i] = re.compile(_alias_regex(self.patterns[i][0]))
        return found

    def candidates(self, norm: str) -> list[int]:
        """Positions in `patterns` of the names `norm` may contain, in pattern order."""
        compact = _SPACES.sub("", norm)
        starts = {compact[j : j + 2] for j in range(len(compact))} | set(compact)  # one-character names too
        found = {i for start in starts for i in self._by_start.get(start, ())}
        return sorted(found.union(self._always))

    def fuzzy_mentions(self, norm: str) -> list[tuple[int, int, str]]:
        """Misspelt names: a Latin word (or two joined) within one or two edits of an alias ("Gogle",
        "Alibba Cloud"), or a Chinese name of four or more characters with one character wrong ("百度只能云")."""
        found: list[tuple[int, int, str]] = []
        for word in re.finditer(r"[a-z]{4,}(?:\s+[a-z]{3,})?", norm):
            first = re.match(r"[a-z]+", word.group(0))
            assert first is not None
            options = [(word.group(0).replace(" ", ""), word.end()), (first.group(0), word.start() + first.end())]
            for candidate, end in options:
                entity_id = self.closest(candidate)
                if entity_id:
                    found.append((word.start(), end, entity_id))
                    break
        for i in sorted({i for c in set(norm) for i in self._cjk_by_first.get(c, ())}):
            alias, entity_id = self.patterns[i]
            found += [(p, p + len(alias), entity_id) for p in _one_char_off(norm, alias)]
        return found

    def closest(self, word: str) -> str | None:
        """The entity of the first Latin name (in `_latin_names` order) within the edits a word of this
        length allows: one below 9 letters, two from 9."""
        if len(word) < 5:
            return None
        allowed = 1 if len(word) < 9 else 2
        if self._deletions is None:
            self._deletions = self._deletion_index()
        near = {r for variant in _deletions(word, allowed) for r in self._deletions.get(variant, ())}
        for r in sorted(near):
            name, entity_id = self._latin[r]
            if abs(len(name) - len(word)) <= allowed and _edits(word, name) <= allowed:
                return entity_id
        return None

    def _deletion_index(self) -> dict[str, list[int]]:
        """Each Latin name under every string left by deleting up to the edits it may be matched with
        (two for names of 7+ letters, which words of 9+ letters may reach; one otherwise). Two strings within
        k edits (adjacent transpositions included) both reduce to one string by at most k deletions each."""
        index: dict[str, list[int]] = {}
        for r, (name, _) in enumerate(self._latin):
            for variant in _deletions(name, 2 if len(name) >= 7 else 1):
                index.setdefault(variant, []).append(r)
        return index


_SPACES = re.compile(r"\s+")


def _deletions(word: str, depth: int) -> set[str]:
    found, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


FUZZY_MAX_CHARS = 300


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _latin_names(patterns: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Latin aliases without spaces, plus the distinctive first word of multi-word ones ("alibaba")."""
    names = {a.replace(" ", ""): e for a, e in patterns if not _CJK.search(a) and len(a.replace(" ", "")) >= 5}
    firsts: dict[str, set[str]] = {}
    for alias, entity_id in patterns:
        first = alias.split()[0]
        if not _CJK.search(alias) and " " in alias and len(first) >= 5:
            firsts.setdefault(first, set()).add(entity_id)
    names.update({w: ids.pop() for w, ids in firsts.items() if len(ids) == 1 and w not in names})
    return names


def _edits(a: str, b: str) -> int:
    """Edit distance counting an adjacent transposition as one edit (optimal string alignment)."""
    rows = [list(range(len(b) + 1))] + [[i] + [0] * len(b) for i in range(1, len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[-1][-1]


def _one_char_off(text: str, alias: str) -> list[int]:
    n = len(alias)
    return [
        i
        for i in range(len(text) - n + 1)
        if text[i] == alias[0] and sum(a != b for a, b in zip(text[i : i + n], alias, strict=True)) == 1
    ]


def _alias_regex(alias: str) -> str:
    escaped = re.escape(alias).replace(r"\ ", r"\s*")
    if _CJK.search(alias):
        return escaped
    return rf"(?<![a-z0-9]){escaped}(?![a-z0-9])"


def find_unknown_vendors(norm: str) -> list[tuple[str, str]]:
    return [names for word, names in v.OTHER_VENDORS.items() if _word_in(word, norm)]


# --- periods ----------------------------------------------------------------------------------------------

_MONTHS = "|".join(sorted(v.MONTH_NAMES, key=len, reverse=True))
_HALF_ZH = {"上": 1, "下": 2}
_QUARTER_ZH = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_CN_MONTH = "十二|十一|十|一|二|三|四|五|六|七|八|九"
_RELATIVE_YEARS = {
    "前年": -2,
    "去年": -1,
    "今年": 0,
    "明年": 1,
    "the year before last": -2,
    "last year": -1,
    "this year": 0,
    "next year": 1,
}

# (pattern, builder) pairs, tried in order; each match blanks its span so later patterns skip it.
_PERIOD_RULES: list[tuple[str, str]] = [
    (r"(?P<y>(?:19|20)\d{2})\s*-?\s*h(?P<h>[12])(?![0-9])", "half"),
    (r"(?<![a-z])h(?P<h>[12])\s*(?P<y>(?:19|20)\d{2})", "half"),
    (r"(?P<y>(?:19|20)\d{2})\s*年?\s*(?:的)?\s*(?P<hz>[上下])半年?", "half"),
    (r"(?<![0-9])(?P<yy>[0-9]{2})\s*年\s*(?:的)?\s*(?P<hz>[上下])半年?", "half"),
    (r"(?<![0-9])(?P<yy>[0-9]{2})\s*年\s*(?P<m>1[0-2]|0?[1-9])\s*月", "month"),
    (r"(?<![0-9])(?P<yy>[0-9]{2})\s*年\s*(?:底|末)", "year_end"),
    (r"(?<![0-9.])(?P<yy>[0-9]{2})\s*年(?![0-9])\s*(?:全年)?", "year"),
    (r"(?P<y>(?:19|20)\d{2})\s*年?\s*(?:的)?\s*(?:第\s*)?(?P<qz>[一二三四1-4])\s*季度", "quarter"),
    (r"(?P<y>(?:19|20)\d{2})\s*-?\s*q(?P<q>[1-4])(?![0-9])", "quarter"),
    (r"(?<![a-z])q(?P<q>[1-4])\s*(?:of\s*)?(?P<y>(?:19|20)\d{2})", "quarter"),
    (r"(?<![0-9])(?P<q>[1-4])q(?P<yy>\d{2})(?![0-9])", "quarter"),
    (r"(?P<half>first|second) half of (?:the year )?(?P<y>(?:19|20)\d{2})", "half"),
    (r"(?P<y>(?:19|20)\d{2})\s*[-/.]\s*(?P<m>1[0-2]|0?[1-9])(?![0-9])", "month"),
    (r"(?P<y>(?:19|20)\d{2})\s*年\s*(?P<m>1[0-2]|0?[1-9])\s*月", "month"),
    (r"(?P<y>(?:19|20)\d{2})\s*年\s*(?P<mz>" + _CN_MONTH + r")\s*月", "month"),
    (r"(?<![a-z])(?P<mn>" + _MONTHS + r")\.?\s*,?\s*(?:of\s*)?(?P<y>(?:19|20)\d{2})", "month"),
    (r"(?P<y>(?:19|20)\d{2})\s*,?\s*(?P<mn>" + _MONTHS + r")(?![a-z])", "month"),
    (r"(?:end of|late|year-end|the end of)\s*(?P<y>(?:19|20)\d{2})", "year_end"),
    (r"(?P<y>(?:19|20)\d{2})\s*年?\s*(?:底|末|年底|年末)", "year_end"),
    (r"(?:start of|beginning of|early)\s*(?P<y>(?:19|20)\d{2})", "year_start"),
    (r"(?P<y>(?:19|20)\d{2})\s*年?\s*初", "year_start"),
    (r"(?<![0-9])(?P<y>(?:19|20)\d{2})(?![0-9])\s*(?:年|全年|full year|fy)?", "year"),
    (r"(?P<rel>前年|去年|今年)\s*(?:年)?\s*(?:底|末)", "rel_year_end"),
    (r"(?:the )?end of (?P<rel>the year before last|last year|this year)", "rel_year_end"),
    (r"(?P<rel>前年|去年|今年)\s*初", "rel_year_start"),
    (r"(?:the )?(?:start|beginning) of (?P<rel>the year before last|last year|this year)", "rel_year_start"),
    (r"(?P<rel>前年|去年|今年|明年)\s*(?P<hz>[上下])半年?", "rel_half"),
    (r"(?P<rel>前年|去年|今年|明年)\s*(?P<m>1[0-2]|0?[1-9])\s*月", "rel_month"),
    (r"(?P<half>first|second) half of (?P<rel>the year before last|last year|this year|next year)", "rel_half"),
    (r"(?P<rel>前年|去年|今年|明年|the year before last|last year|this year|next year)", "rel_year"),
    (r"(?<![0-9.])(?P<m>1[0-2]|0?[1-9])\s*月", "bare_month"),
    (r"(?<![一二三四五六七八九十])(?P<mz>" + _CN_MONTH + r")\s*月(?!均)", "bare_month"),
    (r"(?<![a-z])(?P<mn>" + _MONTHS + r")(?![a-z])", "bare_month"),
    (r"(?<![a-z0-9])h(?P<h>[12])(?![0-9])", "bare_half"),
    (r"(?P<hz>[上下])半年", "bare_half"),
    (r"(?P<half>first|second) half", "bare_half"),
]


def find_periods(norm: str, today: date) -> list[PeriodMention]:
    """Every period the text names, in order of position."""
    found: list[PeriodMention] = []
    for pattern, rule in _PERIOD_RULES:
        for match in re.finditer(pattern, norm):
            mention = _build_period(rule, match, today)
            if mention is None:
                continue
            if rule == "bare_month" and _verb_not_month(match, norm):
                continue
            found.append(mention)
            norm = norm[: match.start()] + " " * (match.end() - match.start()) + norm[match.end() :]
    return sorted(found, key=lambda m: m.start)


def _verb_not_month(match: re.Match[str], norm: str) -> bool:
    """ "may" and "mar" are also words; without a year they are a month only after a preposition."""
    name = match.groupdict().get("mn")
    if name not in ("may", "mar"):
        return False
    return re.search(r"(?:in|of|during|since|from|to|until|by|end of|and) " + name + r"(?![a-z])", norm) is None


def _build_period(rule: str, m: re.Match[str], today: date) -> PeriodMention | None:
    groups = m.groupdict()
    text, start = m.group(0).strip(), m.start()
    year = _year(groups)
    relative = groups.get("rel") or ""
    if relative:
        year = today.year + _RELATIVE_YEARS[relative]
    if rule in ("half", "rel_half", "bare_half"):
        return PeriodMention("half", year, _half(groups), text, start, relative)
    if rule == "quarter":
        return PeriodMention("quarter", year, _QUARTER_ZH[groups.get("qz") or groups["q"]], text, start)
    if rule in ("month", "rel_month", "bare_month"):
        return PeriodMention("month", year, _month(groups), text, start, relative)
    if rule in ("year_end", "rel_year_end"):
        return PeriodMention("month", year, 12, text, start, relative)
    if rule in ("year_start", "rel_year_start"):
        return PeriodMention("month", year, 1, text, start, relative)
    return PeriodMention("year", year, 0, text, start, relative)


def _year(groups: dict[str, str | None]) -> int | None:
    if groups.get("y"):
        return int(groups["y"] or 0)
    if groups.get("yy"):
        return 2000 + int(groups["yy"] or 0)
    return None


def _half(groups: dict[str, str | None]) -> int:
    if groups.get("h"):
        return int(groups["h"] or 1)
    if groups.get("hz"):
        return _HALF_ZH[groups["hz"] or "上"]
    return 1 if groups.get("half") == "first" else 2


def _month(groups: dict[str, str | None]) -> int:
    if groups.get("m"):
        return int(groups["m"] or 1)
    if groups.get("mz"):
        return v.CHINESE_DIGITS[groups["mz"] or "一"]
    return v.MONTH_NAMES[groups["mn"] or "jan"]


def inherit_years(periods: list[PeriodMention]) -> list[PeriodMention]:
    """A year-less month or half takes the year of the nearest earlier mention that has one."""
    result: list[PeriodMention] = []
    last_year: int | None = None
    for mention in periods:
        if mention.year is None and last_year is not None:
            mention = PeriodMention(mention.kind, last_year, mention.index, mention.text, mention.start)
        if mention.year is not None:
            last_year = mention.year
        result.append(mention)
    return result


# --- intent -----------------------------------------------------------------------------------------------


def find_cues(norm: str) -> frozenset[str]:
    table = {
        "ratio": v.RATIO_WORDS,
        "difference": v.DIFFERENCE_WORDS,
        "growth": v.GROWTH_WORDS,
        "sum": v.SUM_WORDS,
        "rest": v.REST_WORDS,
        "average": v.AVERAGE_WORDS,
        "projection": v.PROJECTION_WORDS,
        "ranking": v.RANKING_WORDS,
        "latest": v.LATEST_WORDS,
        "series": v.SERIES_WORDS,
        "convert": v.CONVERT_WORDS,
        "why": v.WHY_WORDS,
        "claim": v.CLAIM_WORDS,
        "article": v.ARTICLE_WORDS,
        "event": v.EVENT_WORDS,
        "share": v.SHARE_WORDS,
        "daily": v.DAILY_WORDS,
        "monthly": v.MONTHLY_WORDS,
        "volume": v.VOLUME_WORDS,
        "market": v.MARKET_WORDS,
        "national": v.NATIONAL_WORDS,
    }
    return frozenset(cue for cue, words in table.items() if contains_any(norm, words))


def choose_intent(cues: frozenset[str], quantities: Sequence[Quantity], n_entities: int, n_periods: int) -> Intent:
    """The one thing the question asks for, from its cues; order encodes which cue wins."""
    if "claim" in cues and quantities:
        return "claim"
    if "convert" in cues and ("unit_target" in cues or quantities):
        return "convert"
    if "projection" in cues and ("if " in cues or n_periods >= 1):
        return "projection"
    if "why" in cues:
        return "why"
    if "rest" in cues:
        return "rest"
    if "sum" in cues and (n_entities >= 2 or "share" in cues):
        return "sum"
    if "ratio" in cues:
        return "ratio"
    if "difference" in cues:
        return "difference"
    if "growth" in cues and (n_periods >= 2 or "series" in cues or n_periods == 0):
        return "growth"
    if "series" in cues:
        return "series"
    if "ranking" in cues and not n_entities:
        return "ranking"
    if "average" in cues and ("monthly" in cues or "daily" in cues):
        return "average"
    if "latest" in cues:
        return "latest"
    return "value"


def understand(question: str, entities: Sequence[Entity] | EntityMatcher, today: date | None = None) -> Query:
    """Read the signals in one question; never raises on odd input. Pass an `EntityMatcher` built once
    when asking many questions about many entities."""
    today = today or date.today()
    text = question.strip()
    norm = normalize(text)
    matcher = entities if isinstance(entities, EntityMatcher) else EntityMatcher.of(entities)
    entity_ids, rest = find_entities(norm, matcher)
    periods = inherit_years(find_periods(rest, today))
    found = find_quantities(text)
    quantities = tuple(f.quantity for f in found)
    cues = find_cues(norm) | _conversion_cue(norm, found)
    if re.search(r"如果|假如|假设|(?<![a-z])if |assuming|suppose", norm):
        cues |= {"if "}
    intent = choose_intent(cues, quantities, len(entity_ids), len(periods))
    return Query(
        text=text,
        norm=norm,
        lang=detect_language(text),
        today=today,
        entities=tuple(entity_ids),
        china_mentioned=contains_any(rest, v.CHINA_WORDS),
        unknown_vendors=tuple(find_unknown_vendors(rest)),
        measures=frozenset(c for c in cues if c in ("share", "daily", "monthly", "volume")),
        periods=tuple(periods),
        quantities=quantities,
        intent=intent,
        cues=cues,
        rank=_rank(norm),
        target_unit=_target_unit(norm),
        unreadable=_unreadable(norm),
    )


def _conversion_cue(norm: str, found: Sequence[Found]) -> frozenset[str]:
    """A count followed by "是多少万亿" / "in trillion" asks for a unit conversion; so does a number in a
    unit we cannot read ("10 zillion"), which the conversion step then reports."""
    asks = re.search(
        r"(?:是|等于|合|换成|换算成|折合|how many|in|into|to)\s*(?:多少)?\s*(?:个)?\s*"
        r"(?:千万亿|万亿|亿|万|quadrillion|trillion|billion|million)",
        norm,
    )
    if not asks:
        return frozenset()
    before = norm[: asks.start()]
    if any(f.quantity.kind == "count" and f.end <= asks.start() + 1 for f in found):
        return frozenset({"convert", "unit_target"})
    if re.search(r"\d\s*(?!tokens?\b)[a-z]*illion", before):
        return frozenset({"convert", "unit_target"})
    return frozenset()


def _unreadable(norm: str) -> str:
    """A number followed by a unit-like word the units parser rejects ("10 zillion")."""
    for match in re.finditer(r"\d[\d.,]*\s*[a-z]*illions?\b", norm):
        try:
            parse_quantity(match.group(0))
        except UnitError as exc:
            return exc.message
    return ""


def _rank(norm: str) -> int | None:
    hits = [(norm.find(word), rank) for word, rank in v.ORDINALS.items() if _word_in(word, norm)]
    return min(hits)[1] if hits else None


_UNIT_WORDS = ("quadrillion", "trillion", "billion", "million", "千万亿", "万亿", "亿", "万")


def _target_unit(norm: str) -> str:
    """The unit a conversion asks for: the last unit word in the question ("… 是多少 trillion")."""
    ends = [(norm.rfind(unit) + len(unit), len(unit), unit) for unit in _UNIT_WORDS if unit in norm]
    return max(ends)[2] if ends else ""
