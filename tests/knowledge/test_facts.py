import time
from datetime import date

import pytest

from knowledge.errors import UserError
from knowledge.facts import Fact, FactsTable, Period
from knowledge.loaders import load_corpus


def fact(metric="m", entity="e", period="2025H1", value=1.0, published="2025-09", **kwargs):
    fields = dict(qualifier="exact", unit="tokens", report="r", source="s", quote="q")
    fields.update(kwargs)
    return Fact(metric, entity, Period.parse(period), value, published=published, **fields)


@pytest.fixture(scope="module")
def corpus_facts():
    return load_corpus().facts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024", Period.of_year(2024)),
        ("2025H1", Period.of_half(2025, 1)),
        ("2025h2", Period.of_half(2025, 2)),
        ("2025Q3", Period.of_quarter(2025, 3)),
        ("2025q4", Period.of_quarter(2025, 4)),
        ("2025-05", Period.of_month(2025, 5)),
        ("2025-5", Period.of_month(2025, 5)),
        ("2025-12", Period.of_month(2025, 12)),
        ("  2025 H1 ", Period.of_half(2025, 1)),
        ("\t2024\n", Period.of_year(2024)),
    ],
)
def test_parse_accepts_canonical_forms(text, expected):
    assert Period.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "25", "20245", "2025H3", "2025H0", "2025Q5", "2025Q0", "2025-13", "2025-00", "2025/05",
     "May 2025", "2025年", "2025-05-01", "H1 2025", "2025M5", "abc"],
)  # fmt: skip
def test_parse_rejects_anything_else_quoting_the_input(text):
    with pytest.raises(UserError) as info:
        Period.parse(text)
    assert repr(text) in info.value.message


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("2024", "2024"), ("2025h1", "2025H1"), ("2025q3", "2025Q3"), ("2025-5", "2025-05")],
)
def test_str_is_canonical_and_round_trips(text, canonical):
    period = Period.parse(text)
    assert str(period) == canonical
    assert Period.parse(str(period)) == period


@pytest.mark.parametrize(
    ("text", "kind", "year", "index", "months"),
    [
        ("2024", "year", 2024, 0, 12),
        ("2025H2", "half", 2025, 2, 6),
        ("2025Q3", "quarter", 2025, 3, 3),
        ("2025-05", "month", 2025, 5, 1),
    ],
)
def test_kind_year_index_and_months(text, kind, year, index, months):
    period = Period.parse(text)
    assert (period.kind, period.year, period.index, period.months) == (kind, year, index, months)


@pytest.mark.parametrize(
    ("text", "start", "end", "days"),
    [
        ("2024", date(2024, 1, 1), date(2024, 12, 31), 366),
        ("2025", date(2025, 1, 1), date(2025, 12, 31), 365),
        ("2025H1", date(2025, 1, 1), date(2025, 6, 30), 181),
        ("2024H1", date(2024, 1, 1), date(2024, 6, 30), 182),
        ("2025H2", date(2025, 7, 1), date(2025, 12, 31), 184),
        ("2025Q3", date(2025, 7, 1), date(2025, 9, 30), 92),
        ("2025-02", date(2025, 2, 1), date(2025, 2, 28), 28),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), 29),
        ("2025-05", date(2025, 5, 1), date(2025, 5, 31), 31),
    ],
)
def test_start_end_and_real_calendar_days(text, start, end, days):
    period = Period.parse(text)
    assert (period.start, period.end, period.days) == (start, end, days)


def test_periods_sort_by_start_then_end():
    texts = ["2025", "2025-02", "2024H2", "2025H1", "2025Q1", "2025-01", "2024"]
    ordered = [str(p) for p in sorted(Period.parse(t) for t in texts)]
    assert ordered == ["2024", "2024H2", "2025-01", "2025Q1", "2025H1", "2025", "2025-02"]


def test_periods_compare_and_hash_by_value():
    assert Period.parse("2025-05") < Period.parse("2025-06") <= Period.parse("2025-06")
    assert Period.parse("2025H2") > Period.parse("2025H1")
    assert len({Period.parse("2025h1"), Period.parse("2025H1"), Period.of_half(2025, 1)}) == 1


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("2025", "2025H1", True),
        ("2025", "2025-12", True),
        ("2025H1", "2025Q2", True),
        ("2025H1", "2025-06", True),
        ("2025H1", "2025-07", False),
        ("2025Q3", "2025H2", False),
        ("2024", "2025-01", False),
        ("2025-05", "2025-05", True),
    ],
)
def test_contains(outer, inner, expected):
    assert Period.parse(outer).contains(Period.parse(inner)) is expected


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("2024", "2024 年", "2024"),
        ("2025H1", "2025 年上半年", "H1 2025"),
        ("2025H2", "2025 年下半年", "H2 2025"),
        ("2025Q3", "2025 年第三季度", "Q3 2025"),
        ("2025-05", "2025 年 5 月", "May 2025"),
        ("2025-12", "2025 年 12 月", "December 2025"),
    ],
)
def test_labels_in_both_languages(text, zh, en):
    period = Period.parse(text)
    assert (period.label("zh"), period.label("en")) == (zh, en)


@pytest.mark.parametrize(
    ("text", "previous"),
    [
        ("2025", "2024"),
        ("2025H1", "2024H2"),
        ("2025H2", "2025H1"),
        ("2025Q1", "2024Q4"),
        ("2025Q3", "2025Q2"),
        ("2025-01", "2024-12"),
        ("2025-05", "2025-04"),
    ],
)
def test_previous_is_the_same_kind_just_before(text, previous):
    assert str(Period.parse(text).previous()) == previous


def test_constructors_refuse_impossible_periods():
    with pytest.raises(UserError):
        Period.of_month(2025, 13)
    with pytest.raises(UserError):
        Period.of_half(2025, 3)


def test_fact_to_dict_has_the_public_json_keys():
    data = fact(value=5.367e14).to_dict()
    assert list(data) == [
        "metric", "entity", "period", "value", "unit", "qualifier", "report", "published", "source", "quote",
    ]  # fmt: skip
    assert data["period"] == "2025H1"
    assert data["value"] == 5.367e14


def test_fact_key_uses_the_canonical_period():
    assert fact(metric="maas_tokens", entity="x", period="2025h1").key == ("maas_tokens", "x", "2025H1")


@pytest.mark.parametrize(
    ("published", "expected"),
    [("2025-07-23", "2025-07"), ("2025-03", "2025-03"), ("2025", "2025"), ("", None), ("soon", None)],
)
def test_published_period(published, expected):
    period = fact(published=published).published_period()
    assert (str(period) if period else None) == expected


def test_table_get_and_contains():
    table = FactsTable([fact(period="2024"), fact(period="2025H1", value=2.0)])
    assert table.get("m", "e", Period.parse("2025H1")).value == 2.0
    assert table.get("m", "e", "2025h1").value == 2.0
    assert table.get("m", "e", "2025H2") is None
    assert table.get("other", "e", "2024") is None
    assert fact(period="2024") in table
    assert ("m", "e", "2024") in table
    assert ("m", "e", "2023") not in table


def test_later_fact_with_the_same_key_wins():
    table = FactsTable([fact(value=1.0), fact(value=2.0)])
    assert len(table) == 1
    assert table.get("m", "e", "2025H1").value == 2.0


def test_lookup_filters_by_any_combination_sorted_by_period_then_entity():
    facts = [
        fact(metric="a", entity="y", period="2025H1"),
        fact(metric="a", entity="x", period="2025H1"),
        fact(metric="a", entity="x", period="2024"),
        fact(metric="b", entity="x", period="2024"),
    ]
    table = FactsTable(facts)

    def keys(found):
        return [f.key for f in found]

    assert keys(table.lookup(metric="a")) == [("a", "x", "2024"), ("a", "x", "2025H1"), ("a", "y", "2025H1")]
    assert keys(table.lookup(entity="x", period="2024")) == [("a", "x", "2024"), ("b", "x", "2024")]
    assert keys(table.lookup(metric="a", entity="y")) == [("a", "y", "2025H1")]
    assert len(table.lookup()) == 4
    assert table.lookup(metric="missing") == []


def test_series_metrics_entities_periods_latest():
    table = FactsTable(
        [fact(period="2025-06"), fact(period="2024-05"), fact(period="2025-05"), fact(metric="n", entity="z")]
    )
    assert [str(f.period) for f in table.series("m", "e")] == ["2024-05", "2025-05", "2025-06"]
    assert table.metrics() == ["m", "n"]
    assert table.entities() == ["e", "z"]
    assert table.entities("n") == ["z"]
    assert [str(p) for p in table.periods("m")] == ["2024-05", "2025-05", "2025-06"]
    assert str(table.latest("m", "e")) == "2025-06"
    assert table.latest("missing") is None


def test_published_in_selects_by_publication_date():
    table = FactsTable(
        [
            fact(period="2025-05", published="2025-05-20"),
            fact(period="2025-06", published="2025-07-23"),
            fact(period="2025-10", published="2025-10-29"),
        ]
    )
    assert [str(f.period) for f in table.published_in("m", "e", Period.parse("2025-07"))] == ["2025-06"]
    assert len(table.published_in("m", "e", Period.parse("2025"))) == 3
    assert table.published_in("m", "e", Period.parse("2024")) == []


def test_merged_replaces_same_key_and_keeps_the_original():
    original = FactsTable([fact(period="2024", value=1.0), fact(period="2025H1", value=2.0)])
    merged = original.merged([fact(period="2025H1", value=3.0), fact(period="2025H2", value=4.0)])
    assert [f.value for f in merged] == [1.0, 3.0, 4.0]
    assert [f.value for f in original] == [1.0, 2.0]


def test_frame_holds_every_fact():
    frame = FactsTable([fact(period="2024"), fact(period="2025H1")]).frame
    assert list(frame["period"]) == ["2024", "2025H1"]
    assert FactsTable([]).frame.empty


def test_corpus_maas_tokens_2025h1(corpus_facts):
    found = corpus_facts.get("maas_tokens", "china_public_cloud", Period.parse("2025H1"))
    assert found.value == pytest.approx(5.367e14)
    assert (found.unit, found.qualifier, found.origin) == ("tokens", "exact", "idc_maas_tokens.csv")
    assert found.value_text == "536.7万亿"


def test_corpus_google_980_trillion_is_june_published_in_july(corpus_facts):
    found = corpus_facts.get("monthly_tokens", "google", "2025-06")
    assert found.value == pytest.approx(9.8e14)
    assert found.qualifier == "at_least"
    assert found.published == "2025-07-23"
    assert corpus_facts.published_in("monthly_tokens", "google", Period.parse("2025-07")) == [found]


def test_corpus_series_and_latest(corpus_facts):
    assert [str(p) for p in corpus_facts.periods("maas_tokens", "china_public_cloud")] == ["2024", "2025H1"]
    assert str(corpus_facts.latest("daily_tokens", "doubao")) == "2025-12"
    assert corpus_facts.get("maas_share", "volcano_engine", "2025H1").value == pytest.approx(49.2)
    assert "maas_share" in corpus_facts.metrics()


def test_lookups_are_fast(corpus_facts):
    period = Period.parse("2025H1")
    started = time.perf_counter()
    for _ in range(10_000):
        corpus_facts.get("maas_tokens", "china_public_cloud", period)
        corpus_facts.series("daily_tokens", "doubao")
    per_call = (time.perf_counter() - started) / 20_000
    assert per_call < 50e-6
