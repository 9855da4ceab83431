import dataclasses

import pytest

from knowledge.errors import InvalidFileError
from knowledge.facts import Period
from knowledge.loaders import (
    Entity,
    default_corpus_dir,
    load_article,
    load_corpus,
    load_entities,
    load_table,
    load_tables,
)

HEADER = "metric,entity,period,value,qualifier,unit,report,published,source,quote"
GOOD_ROW = "maas_tokens,china_public_cloud,2024,114.2万亿,exact,tokens,IDC,2025-03,site,原文"
ENTITIES = {"china_public_cloud", "volcano_engine", "google"}


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def csv_file(tmp_path, *rows, header=HEADER, name="t.csv"):
    return write(tmp_path, name, "\n".join([header, *rows]) + "\n")


def problems_of(path, entities=None):
    with pytest.raises(InvalidFileError) as info:
        load_table(path, entities)
    return info.value.problems


def only_problem(path, entities=None):
    problems = problems_of(path, entities)
    assert len(problems) == 1, problems
    return problems[0]


# ---- the shipped corpus ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_shipped_corpus_loads_every_table_row(corpus):
    assert len(corpus.tables) == 5
    assert len(corpus.facts) == sum(t.rows for t in corpus.tables) == 20
    assert {f.metric for f in corpus.facts} == {"maas_tokens", "maas_share", "monthly_tokens", "daily_tokens"}


def test_table_info_describes_each_file(corpus):
    info = {t.name: t for t in corpus.tables}["idc_maas_tokens.csv"]
    assert info.rows == 2
    assert info.published == "2025-09"
    assert info.reports == (
        "IDC 中国公有云大模型服务市场格局分析 1Q25",
        "IDC 中国大模型公有云服务市场分析 2025H1",
    )


def test_every_article_paragraph_is_a_passage_in_order(corpus):
    text = (default_corpus_dir() / "article.md").read_text(encoding="utf-8")
    body = text.split("\n---\n", 1)[1]
    paragraphs = [line.strip() for line in body.splitlines() if line.strip()]
    assert [p.text for p in corpus.passages] == paragraphs
    assert [p.position for p in corpus.passages] == list(range(len(paragraphs)))
    assert {(p.source, p.author) for p in corpus.passages} == {("article.md", "阑夕")}


def test_article_front_matter_is_read(corpus):
    article = load_article(default_corpus_dir() / "article.md")
    assert article.meta["author"] == "阑夕"
    assert article.meta["written"] == "2025-09"


def test_entities_have_names_and_aliases(corpus):
    volcano = {e.id: e for e in corpus.entities}["volcano_engine"]
    assert volcano == Entity(
        "volcano_engine", "火山引擎", "Volcano Engine", ("火山", "字节火山", "Volcengine", "ByteDance cloud")
    )
    assert {"china", "doubao", "google"} <= {e.id for e in corpus.entities}


def test_extra_facts_override_shipped_ones(corpus):
    shipped = corpus.facts.get("maas_tokens", "china_public_cloud", "2024")
    newer = dataclasses.replace(shipped, value=1.2e14, origin="new.csv")
    updated = load_corpus(extra_facts=[newer])
    assert updated.facts.get("maas_tokens", "china_public_cloud", "2024").value == 1.2e14
    assert len(updated.facts) == len(corpus.facts)


def test_corpus_articles_other_than_readme_need_front_matter(tmp_path):
    write(tmp_path, "README.md", "# notes\n")
    write(tmp_path, "notes.md", "no front matter, not an article\n")
    write(tmp_path, "second.md", "---\nauthor: x\ntitle: T\n---\nfirst\n\nsecond\n")
    (tmp_path / "tables").mkdir()
    csv_file(tmp_path / "tables", GOOD_ROW)
    corpus = load_corpus(tmp_path)
    assert [(p.source, p.position, p.text, p.title) for p in corpus.passages] == [
        ("second.md", 0, "first", "T"),
        ("second.md", 1, "second", "T"),
    ]
    assert len(corpus.facts) == 1


# ---- articles and entities -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "just text\n",
        "---\nauthor: x\nno closing line\n",
        "---\nauthor: [unclosed\n---\ntext\n",
        "---\n- a\n---\ntext\n",
    ],
)
def test_article_without_readable_front_matter_is_invalid(tmp_path, text):
    with pytest.raises(InvalidFileError) as info:
        load_article(write(tmp_path, "a.md", text))
    assert len(info.value.problems) == 1
    assert info.value.problems[0].file == "a.md"


def test_entities_with_duplicate_id_are_invalid(tmp_path):
    path = write(tmp_path, "entities.csv", "entity,name_zh,name_en,aliases\nx,甲,X,\nx,乙,Y,\n")
    with pytest.raises(InvalidFileError) as info:
        load_entities(path)
    assert [(p.row, p.column) for p in info.value.problems] == [(3, "entity")]


# ---- formats and encodings -------------------------------------------------------------------------


def test_csv_with_bom_reads_the_first_header(tmp_path):
    path = write(tmp_path, "t.csv", f"{HEADER}\n{GOOD_ROW}\n", encoding="utf-8-sig")
    [fact] = load_table(path)
    assert (fact.metric, fact.value, fact.origin, fact.value_text) == (
        "maas_tokens",
        1.142e14,
        "t.csv",
        "114.2万亿",
    )


def test_gbk_csv_with_chinese_headers(tmp_path):
    text = (
        "指标,主体,期间,数值,口径,单位,报告,发布,来源,原文\n"
        "maas_share,volcano_engine,2025H1,49.2%,精确,percent,IDC 报告,2025-09,网站,火山引擎份额第一\n"
    )
    [fact] = load_table(write(tmp_path, "t.csv", text, encoding="gbk"), ENTITIES)
    assert (fact.metric, fact.period, fact.value, fact.unit) == (
        "maas_share",
        Period.parse("2025H1"),
        49.2,
        "percent",
    )
    assert (fact.qualifier, fact.report, fact.quote) == (
        "exact",
        "IDC 报告",
        "火山引擎份额第一",
    )


@pytest.mark.parametrize("separator", [";", "\t"])
def test_semicolon_and_tab_separated_csv(tmp_path, separator):
    text = f"{HEADER}\n{GOOD_ROW}\n".replace(",", separator)
    [fact] = load_table(write(tmp_path, "t.csv", text))
    assert fact.value == 1.142e14


def test_headers_are_case_and_space_insensitive_and_optional_columns_may_be_missing(tmp_path):
    path = csv_file(
        tmp_path,
        "maas_tokens, china_public_cloud ,2024,114.2万亿,tokens,x",
        header=" Metric ,ENTITY,Period,value,Unit,extra",
    )
    [fact] = load_table(path)
    assert (fact.entity, fact.qualifier, fact.report, fact.published) == (
        "china_public_cloud",
        "exact",
        "",
        "",
    )


def test_value_words_set_the_qualifier_when_the_column_is_empty(tmp_path):
    path = csv_file(
        tmp_path,
        "daily_tokens,google,2025-06,超过30万亿,,tokens,,,,",
        "daily_tokens,google,2025-07,more than 980 trillion,,tokens,,,,",
        "daily_tokens,google,2025-08,突破30万亿,exact,tokens,,,,",
    )
    assert [f.qualifier for f in load_table(path)] == ["at_least", "at_least", "exact"]


def test_xlsx_table(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["metric", "entity", "period", "value", "qualifier", "unit", "published"])
    sheet.append(["maas_tokens", "china_public_cloud", 2024, "114.2万亿", "exact", "tokens", "2025-03"])
    sheet.append(["maas_share", "volcano_engine", "2025H1", 0.492, None, "percent", "2025-09"])
    sheet["D3"].number_format = "0.0%"
    path = tmp_path / "t.xlsx"
    workbook.save(path)
    first, second = load_table(path, ENTITIES)
    assert (first.period, first.value) == (Period.parse("2024"), 1.142e14)
    assert (second.value, second.value_text, second.qualifier) == (pytest.approx(49.2), "49.2%", "exact")


def test_markdown_table_ignores_the_text_around_it(tmp_path):
    text = (
        "# Google tokens\n\nSome words.\n\n"
        "| metric | entity | period | value | qualifier | unit |\n"
        "| --- | --- | :---: | ---: | --- | --- |\n"
        "| `monthly_tokens` | google | 2025-06 | 980 trillion | at_least | tokens |\n"
        "| monthly_tokens | google | 2025-05 | 480 trillion | exact | tokens |\n"
        "\nMore words | with a pipe.\n"
    )
    facts = load_table(write(tmp_path, "t.md", text), ENTITIES)
    assert [(str(f.period), f.value, f.qualifier) for f in facts] == [
        ("2025-06", 9.8e14, "at_least"),
        ("2025-05", 4.8e14, "exact"),
    ]


# ---- one test per kind of bad file -----------------------------------------------------------------


def test_missing_required_columns_are_each_reported_without_a_row(tmp_path):
    path = csv_file(tmp_path, "maas_tokens,2024,114.2万亿", header="metric,period,value")
    problems = problems_of(path)
    assert [(p.row, p.column) for p in problems] == [(None, "entity"), (None, "unit")]


@pytest.mark.parametrize("column", ["metric", "entity", "period", "value", "unit"])
def test_empty_required_cell(tmp_path, column):
    cells = dict(zip(HEADER.split(","), GOOD_ROW.split(","), strict=True))
    cells[column] = ""
    problem = only_problem(csv_file(tmp_path, ",".join(cells.values())))
    assert (problem.row, problem.column) == (2, column)
    assert "empty" in problem.message


def test_unparseable_value_quotes_the_units_error(tmp_path):
    path = csv_file(tmp_path, GOOD_ROW, GOOD_ROW.replace("2024", "2023").replace("114.2万亿", "lots"))
    problem = only_problem(path)
    assert (problem.row, problem.column) == (3, "value")
    assert "lots" in problem.message


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        ("46.4%", "tokens"),
        ("114.2万亿", "percent"),
        ("-5万亿", "tokens"),
        ("0", "tokens"),
        ("120%", "percent"),
    ],
)
def test_value_that_does_not_fit_its_unit(tmp_path, value, unit):
    row = GOOD_ROW.replace("114.2万亿", value).replace("tokens", unit)
    problem = only_problem(csv_file(tmp_path, row))
    assert (problem.row, problem.column) == (2, "value")


@pytest.mark.parametrize(
    ("old", "new", "column"),
    [
        ("tokens", "bananas", "unit"),
        ("exact", "maybe", "qualifier"),
        (",2024,", ",2024H3,", "period"),
        ("2025-03", "March 2025", "published"),
        ("2025-03", "2025-13-01", "published"),
    ],
)
def test_bad_cell(tmp_path, old, new, column):
    other_row = GOOD_ROW.replace(",2024,", ",2023,")
    problem = only_problem(csv_file(tmp_path, other_row, GOOD_ROW.replace(old, new)))
    assert (problem.row, problem.column) == (3, column)
    assert repr(new.strip(",")) in problem.message


def test_entity_not_in_the_known_list(tmp_path):
    problem = only_problem(csv_file(tmp_path, GOOD_ROW.replace("china_public_cloud", "nobody")), ENTITIES)
    assert (problem.row, problem.column) == (2, "entity")
    assert "'nobody'" in problem.message


def test_duplicate_key_in_one_file(tmp_path):
    problem = only_problem(csv_file(tmp_path, GOOD_ROW, GOOD_ROW.replace("2024", "2025H1"), GOOD_ROW))
    assert (problem.row, problem.column) == (4, "period")
    assert "row 2" in problem.message


@pytest.mark.parametrize(("text", "message"), [("", "empty"), ("\n\n", "empty"), (HEADER + "\n", "no data rows")])
def test_empty_or_header_only_file(tmp_path, text, message):
    problem = only_problem(write(tmp_path, "t.csv", text))
    assert problem.row is None
    assert message in problem.message


def test_binary_junk_is_not_a_text_table(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x80")
    problem = only_problem(path)
    assert problem.message.startswith("not a text table")


def test_junk_xlsx_is_reported(tmp_path):
    path = write(tmp_path, "t.xlsx", "this is not a zip file")
    assert "Excel" in only_problem(path).message


def test_unsupported_extension(tmp_path):
    problem = only_problem(write(tmp_path, "t.json", "{}"))
    assert "'.json'" in problem.message


def test_markdown_without_a_table(tmp_path):
    assert "no Markdown table" in only_problem(write(tmp_path, "t.md", "# nothing here\n")).message


def test_three_problems_are_reported_together(tmp_path):
    path = csv_file(
        tmp_path,
        GOOD_ROW.replace("tokens", "bananas"),
        GOOD_ROW.replace("2024", "2025H1").replace("114.2万亿", "46.4%"),
        GOOD_ROW.replace("2024", "2025-14"),
    )
    problems = problems_of(path)
    assert [(p.row, p.column) for p in problems] == [(2, "unit"), (3, "value"), (4, "period")]
    with pytest.raises(InvalidFileError, match="3 problem"):
        load_table(path)


def test_load_tables_with_one_bad_file_loads_nothing(tmp_path):
    good = csv_file(tmp_path, GOOD_ROW, name="good.csv")
    bad = csv_file(tmp_path, GOOD_ROW.replace("tokens", "bananas"), name="bad.csv")
    with pytest.raises(InvalidFileError) as info:
        load_tables([good, bad])
    assert [(p.file, p.row, p.column) for p in info.value.problems] == [("bad.csv", 2, "unit")]
    assert len(load_tables([good])) == 1


def test_load_tables_reports_the_problems_of_every_file(tmp_path):
    first = csv_file(tmp_path, GOOD_ROW.replace("tokens", "bananas"), name="a.csv")
    second = write(tmp_path, "b.txt", "x")
    with pytest.raises(InvalidFileError) as info:
        load_tables([first, second])
    assert [p.file for p in info.value.problems] == ["a.csv", "b.txt"]
