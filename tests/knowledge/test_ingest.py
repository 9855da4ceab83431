"""Ingest: validate everything first, store atomically, diff into new/revised/unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.errors import InvalidFileError
from knowledge.ingest import FactStore, diff, ingest
from knowledge.loaders import load_corpus

HEADER = "metric,entity,period,value,qualifier,unit,report,published,source,quote\n"
FULL_YEAR = HEADER + (
    "maas_tokens,china_public_cloud,2025,1200万亿,exact,tokens,IDC 2025 全年,2026-03,idc.example,全年 1200 万亿\n"
)
SAME_AS_SHIPPED = HEADER + (
    "maas_tokens,china_public_cloud,2024,114.2万亿,exact,tokens,IDC 1Q25,2025-03,hehuxinxi.cn/?p=53116,114.2 万亿\n"
)
REVISED = HEADER + (
    "maas_tokens,china_public_cloud,2025H1,540万亿,exact,tokens,IDC revision,2026-01,idc.example,修订为 540 万亿\n"
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_new_figure_is_stored_and_joins_the_corpus(tmp_path: Path) -> None:
    store = FactStore(tmp_path / "data")
    result = ingest([write(tmp_path, "full_year.csv", FULL_YEAR)], store)
    assert [f.key for f in result.new] == [("maas_tokens", "china_public_cloud", "2025")]
    assert result.summary() == "1 new, 0 revised, 0 unchanged"
    reloaded = FactStore(tmp_path / "data").corpus()
    assert reloaded.facts.get("maas_tokens", "china_public_cloud", "2025").value == 1.2e15


def test_identical_data_changes_nothing(tmp_path: Path) -> None:
    store = FactStore(tmp_path / "data")
    result = ingest([write(tmp_path, "same.csv", SAME_AS_SHIPPED)], store)
    assert (len(result.new), len(result.revised), len(result.unchanged)) == (0, 0, 1)
    assert not store.facts_path.exists()


def test_reingesting_the_same_file_twice_reports_unchanged(tmp_path: Path) -> None:
    store = FactStore(tmp_path / "data")
    path = write(tmp_path, "full_year.csv", FULL_YEAR)
    ingest([path], store)
    second = ingest([path], store)
    assert second.summary() == "0 new, 0 revised, 1 unchanged"


def test_revised_value_reports_before_and_after(tmp_path: Path) -> None:
    store = FactStore(tmp_path / "data")
    result = ingest([write(tmp_path, "revised.csv", REVISED)], store)
    (revision,) = result.revised
    assert revision.before.value == pytest.approx(5.367e14)
    assert revision.after.value == pytest.approx(5.4e14)
    assert store.corpus().facts.get("maas_tokens", "china_public_cloud", "2025H1").value == pytest.approx(5.4e14)


def test_one_bad_file_stores_nothing_from_any_file(tmp_path: Path) -> None:
    store = FactStore(tmp_path / "data")
    good = write(tmp_path, "good.csv", FULL_YEAR)
    bad = write(tmp_path, "bad.csv", HEADER + "maas_tokens,china_public_cloud,2025,lots,exact,tokens,r,2026,s,q\n")
    with pytest.raises(InvalidFileError) as caught:
        ingest([good, bad], store)
    assert any(p.file == "bad.csv" and p.row == 2 and p.column == "value" for p in caught.value.problems)
    assert store.facts() == []


def test_unknown_entity_is_a_problem_with_row_and_column(tmp_path: Path) -> None:
    text = HEADER + "maas_share,tencent_cloud,2025H1,5%,exact,percent,r,2025-09,s,q\n"
    with pytest.raises(InvalidFileError) as caught:
        ingest([write(tmp_path, "tencent.csv", text)], FactStore(tmp_path / "data"))
    assert [(p.row, p.column) for p in caught.value.problems] == [(2, "entity")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", "hello", "unsupported file type"),
        ("missing.csv", None, "file not found"),
    ],
)
def test_files_that_cannot_be_tables_are_refused(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InvalidFileError, match=message):
        ingest([path], FactStore(tmp_path / "data"))


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_bytes(HEADER.encode() + b"x" * (5 * 1024 * 1024 + 1))
    with pytest.raises(InvalidFileError, match="limit is 5 MB"):
        ingest([path], FactStore(tmp_path / "data"))


def test_gbk_csv_with_chinese_headers_ingests(tmp_path: Path) -> None:
    text = "指标,主体,期间,数值,口径,单位,报告,发布,来源,原文\n" + (
        "daily_tokens,doubao,2026-03,60万亿,at_least,tokens,火山引擎公告,2026-04,example,日均突破 60 万亿\n"
    )
    result = ingest([write(tmp_path, "gbk.csv", text, encoding="gbk")], FactStore(tmp_path / "data"))
    assert result.new[0].value == 6e13
    assert result.new[0].qualifier == "at_least"


def test_article_with_front_matter_adds_passages(tmp_path: Path) -> None:
    article = write(
        tmp_path, "note.md", "---\nauthor: 测试\nsource: example\n---\n\n第一段。\n\n第二段:IDC 新报告。\n"
    )
    store = FactStore(tmp_path / "data")
    result = ingest([article], store)
    assert result.articles == ("note.md",)
    assert any("IDC 新报告" in p.text for p in store.corpus().passages)


def test_diff_splits_new_revised_unchanged() -> None:
    known = list(load_corpus().facts)
    new, revised, unchanged = diff(known, known[:3])
    assert (new, revised, len(unchanged)) == ([], [], 3)


def test_tables_may_name_entities_by_name_or_alias(tmp_path: Path) -> None:
    text = HEADER + (
        "maas_share,火山引擎,2025H2,51%,exact,percent,IDC 2025H2,2026-03,idc.example,51%\n"
        "maas_share,Alibaba Cloud,2025H2,26%,exact,percent,IDC 2025H2,2026-03,idc.example,26%\n"
        "maas_tokens,中国公有云,2025,1300万亿,exact,tokens,IDC 2025,2026-03,idc.example,1300 万亿\n"
    )
    result = ingest([write(tmp_path, "names.csv", text)], FactStore(tmp_path / "data"))
    assert sorted(f.entity for f in result.new) == ["alibaba_cloud", "china_public_cloud", "volcano_engine"]


def test_before_store_sees_the_change_before_the_facts_are_stored(tmp_path: Path) -> None:
    store = FactStore(tmp_path / "data")
    seen = []

    def before_store(result):
        seen.append(([f.key for f in result.new], store.facts()))

    ingest([write(tmp_path, "full_year.csv", FULL_YEAR)], store, before_store=before_store)
    assert seen == [([("maas_tokens", "china_public_cloud", "2025")], [])]
    assert len(store.facts()) == 1


def test_a_crash_before_storing_loses_nothing_the_next_ingest_redoes_it(tmp_path: Path) -> None:
    store = FactStore(tmp_path / "data")
    path = write(tmp_path, "full_year.csv", FULL_YEAR)

    def crash(result):
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        ingest([path], store, before_store=crash)
    assert store.facts() == []
    assert ingest([path], store).summary() == "1 new, 0 revised, 0 unchanged"


def test_before_store_is_not_called_when_nothing_changed(tmp_path: Path) -> None:
    calls = []
    ingest([write(tmp_path, "same.csv", SAME_AS_SHIPPED)], FactStore(tmp_path / "data"), before_store=calls.append)
    assert calls == []
