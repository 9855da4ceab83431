"""The `marketbot` command as users and tools run it: real subprocesses on a temporary data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MARKETBOT = [sys.executable, "-m", "bot"]


def run(
    args: list[str],
    data_dir: Path,
    stdin: str | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "MARKETBOT_DATA_DIR": str(data_dir), "TELEGRAM_BOT_TOKEN": "", "CHROMA_URL": ""}
    return subprocess.run(
        [*MARKETBOT, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("data")
    result = run(["index"], data_dir)
    assert result.returncode == 0, result.stderr
    return data_dir


def test_index_twice_reports_nothing_changed(indexed: Path) -> None:
    second = run(["index"], indexed)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("nothing changed")


def test_ask_json_follows_the_contract(indexed: Path) -> None:
    result = run(["ask", "--json", "2025 上半年的调用量是 2024 全年的多少倍?"], indexed)
    reply = json.loads(result.stdout)
    assert set(reply) == {
        "question",
        "answer",
        "status",
        "language",
        "facts",
        "computations",
        "passages",
        "latency_ms",
    }
    assert reply["status"] == "answered"
    assert reply["computations"][0]["result"] == pytest.approx(4.6996, abs=1e-3)


def test_batch_answers_every_line_in_order(indexed: Path) -> None:
    questions = ["2024 年公有云调用量?", "讲个笑话吧", "Google's monthly tokens in May 2025?"]
    result = run(["ask", "--json", "--batch", "-"], indexed, stdin="\n".join(questions) + "\n")
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in replies] == questions
    assert [r["status"] for r in replies] == ["answered", "not_found", "answered"]


def test_ingest_makes_a_new_figure_answerable_after_restart(indexed: Path, tmp_path: Path) -> None:
    table = tmp_path / "idc_2025.csv"
    table.write_text(
        "metric,entity,period,value,qualifier,unit,report,published,source,quote\n"
        "maas_tokens,china_public_cloud,2025,1234万亿,exact,tokens,IDC 2025 全年,2026-03,idc.example,全年 1234 万亿\n",
        encoding="utf-8",
    )
    ingested = run(["ingest", "--json", str(table)], indexed)
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["summary"] == "1 new, 0 revised, 0 unchanged"
    again = run(["ingest", str(table)], indexed)
    assert again.stdout.startswith("0 new, 0 revised, 1 unchanged")
    answer = json.loads(run(["ask", "--json", "2025 年全年公有云 Tokens 调用量是多少?"], indexed).stdout)
    assert "1,234 万亿" in answer["answer"]


def test_invalid_ingest_exits_non_zero_and_lists_problems(indexed: Path, tmp_path: Path) -> None:
    table = tmp_path / "broken.csv"
    table.write_text("metric,entity,period,value,unit\nmaas_tokens,nobody,2025Q9,many,tokens\n", encoding="utf-8")
    result = run(["ingest", str(table)], indexed)
    assert result.returncode == 1
    assert "broken.csv, row 2, column entity" in result.stderr
    assert "broken.csv, row 2, column period" in result.stderr
    assert "broken.csv, row 2, column value" in result.stderr


def test_run_without_token_falls_back_to_console_chat(indexed: Path) -> None:
    result = run(["run", "--or-chat"], indexed, stdin="2024 年公有云调用量是多少?\n\n")
    assert result.returncode == 0
    assert "console" in result.stdout
    assert "114.2 万亿" in result.stdout


def test_ask_without_question_is_a_clear_error(indexed: Path) -> None:
    result = run(["ask"], indexed)
    assert result.returncode == 2
    assert "Give a question" in result.stderr


@pytest.mark.chroma_server
def test_every_command_works_on_a_chroma_server(empty_chroma_server: str, tmp_path: Path) -> None:
    """CHROMA_URL moves the index to the server: nothing is stored in the data dir, and a second data dir
    (another machine of the same deployment) finds the index already built."""
    env = {"CHROMA_URL": empty_chroma_server}
    first, second = tmp_path / "first", tmp_path / "second"
    built = run(["index"], first, env=env)
    assert built.returncode == 0, built.stderr
    assert "passages: 26 added" in built.stdout
    assert run(["index"], second, env=env).stdout.startswith("nothing changed")
    assert not (first / "chroma").exists() and not (second / "chroma").exists()

    reply = json.loads(run(["ask", "--json", "2025 年 2 月发生了什么?"], second, env=env).stdout)
    assert reply["status"] == "answered" and reply["passages"], reply
    table = tmp_path / "idc_2025.csv"
    table.write_text(
        "metric,entity,period,value,qualifier,unit,report,published,source,quote\n"
        "maas_tokens,china_public_cloud,2025,1234万亿,exact,tokens,IDC 2025 全年,2026-03,idc.example,全年 1234 万亿\n",
        encoding="utf-8",
    )
    ingested = json.loads(run(["ingest", "--json", str(table)], first, env=env).stdout)
    assert "facts: 1 added" in ingested["index"], ingested
    answer = json.loads(run(["ask", "--json", "2025 年全年公有云 Tokens 调用量是多少?"], first, env=env).stdout)
    assert "1,234 万亿" in answer["answer"]
