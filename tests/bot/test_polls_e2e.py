"""Prediction polls end to end: the real application (`build_application`, real SQLite in the test's data dir)
polling the Bot API test server, from /newpoll to the results message and the leaderboard.

Everything happens in one supergroup, as it would for real. Each test has its own data dir and database
(`tmp_path`); the answer services are loaded once per module. Resolution by ingest runs the real CLI
(`python -m bot ingest`) as a subprocess on the bot's data dir while the bot is running.

Telegram allows a bot ~20 messages a minute per group, and the bot's AIORateLimiter enforces that by
waiting; the functional tests lift that per-group limit (`relaxed_group_limit`) so they take seconds, not
minutes; the 500-prediction burst also lifts the 30/s overall limit (`no_rate_limit`), as it tests storage
under load. `test_a_busy_group_does_not_stall_other_chats` keeps the shipped limiter.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import math
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import matplotlib.image
import pytest
from botapi import BotApiServer
from conftest import ADMIN_ID, make_settings, running_bot
from telegram.ext import AIORateLimiter

from bot.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
GROUP = -1001234567890
OTHER_GROUP = -1009876543210
JOB_INTERVAL = 0.3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T = 1e12  # 1 万亿 = 1 trillion
TABLE_HEADER = "metric,entity,period,value,qualifier,unit,report,published,source,quote\n"
IDC_2025 = (
    "maas_tokens,china_public_cloud,2025,1300万亿,exact,tokens,IDC 2025 全年,2026-03,idc.example,全年 1300 万亿\n"
)
IDC_2026 = (
    "maas_tokens,china_public_cloud,2026,2600万亿,exact,tokens,IDC 2026 全年,2027-03,idc.example,全年 2600 万亿\n"
)
RESULTS_PREFIX = "揭晓"  # the admin opens polls in Chinese, so results are written in Chinese


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    lang: str = "en"


ADMIN = Person(ADMIN_ID, "Ada", "zh-hans")
ANN = Person(101, "Ann")
BOB = Person(102, "Bob", "zh-hans")
CAT = Person(103, "Cat")
DAN = Person(105, "Dan")
EVE = Person(104, "Eve", "zh-hans")  # a lower id than Dan: a tie between them must go by time, not id
FAY = Person(106, "Fay")
GUS = Person(107, "Gus")
ZHO = Person(108, "Zhou", "zh-hans")


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
def relaxed_group_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's AIORateLimiter without the per-group 20/minute limit (the 30/s overall limit stays)."""
    import bot.app

    monkeypatch.setattr(bot.app, "AIORateLimiter", functools.partial(AIORateLimiter, group_max_rate=0))


@pytest.fixture
def no_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's AIORateLimiter with neither the per-group nor the overall limit: only the handler path."""
    import bot.app

    unlimited = functools.partial(AIORateLimiter, overall_max_rate=0, group_max_rate=0)
    monkeypatch.setattr(bot.app, "AIORateLimiter", unlimited)


@pytest.fixture
async def group_bot(
    server: BotApiServer, services, tmp_path: Path, relaxed_group_limit
) -> AsyncIterator[BotApiServer]:
    async with running_bot(server, tmp_path, services=services, job_interval=JOB_INTERVAL):
        yield server


def data_dir(tmp_path: Path) -> Path:
    """The bot's data dir as `running_bot` sets it (settings.marketbot_data_dir)."""
    return tmp_path / "bot-data"


def database_url(server: BotApiServer, tmp_path: Path) -> str:
    return make_settings(server, data_dir(tmp_path)).database


# --- helpers --------------------------------------------------------------------------------------------


def push(server: BotApiServer, person: Person, text: str, chat: int = GROUP) -> dict:
    return server.push_message(
        chat,
        text,
        user_id=person.id,
        first_name=person.name,
        username=None,
        language_code=person.lang,
        chat_type="supergroup",
        chat_title="Market watchers",
    )


def replies_to(message: dict):
    def matches(call) -> bool:
        return call.ok and (call.result.get("reply_to_message") or {}).get("message_id") == message["message_id"]

    return matches


async def say(server: BotApiServer, person: Person, text: str, chat: int = GROUP, timeout: float = 10.0) -> str:
    """Push `person`'s message and return the text of the bot's reply to it."""
    message = push(server, person, text, chat)
    [call] = await server.wait_for("sendMessage", chat_id=chat, predicate=replies_to(message), timeout=timeout)
    return call.result["text"]


async def open_poll(server: BotApiServer, args: str = "maas_tokens 2025 2027-06-30") -> tuple[int, str, dict]:
    """The admin opens a poll; returns (poll id, the announcement text, the native poll as sent)."""
    text = await say(server, ADMIN, f"/newpoll {args}")
    found = re.match(r"#(\d+) ", text)
    assert found, text
    poll_id = int(found[1])
    [native] = await server.wait_for(
        "sendPoll",
        chat_id=GROUP,
        predicate=lambda c: c.ok and c.result["poll"]["question"].startswith(f"#{poll_id} "),
    )
    return poll_id, text, native.result["poll"]


async def predict(server: BotApiServer, person: Person, value: str, chat: int = GROUP) -> str:
    return await say(server, person, f"/predict {value}", chat)


def count_in(summary: str) -> int:
    if "还没有人预测" in summary or "No predictions yet" in summary:
        return 0
    found = re.search(r"(\d+) (?:人预测|predictions)", summary)
    assert found, summary
    return int(found[1])


async def poll_summary(server: BotApiServer, poll_id: int) -> str:
    return await say(server, ZHO, f"/poll {poll_id}")


async def predictors(server: BotApiServer, poll_id: int) -> int:
    return count_in(await poll_summary(server, poll_id))


async def quiet(server: BotApiServer, seconds: float = 0.3) -> None:
    """Every pushed update was fetched, and handlers had time to finish (updates run one at a time)."""
    await server.wait_delivered()
    await asyncio.sleep(seconds)


def is_announcement(result: dict) -> bool:
    """A results message sent by the announcement job (not a reply, unlike /poll on a resolved poll)."""
    return result.get("text", "").startswith(RESULTS_PREFIX) and "reply_to_message" not in result


def results_messages(server: BotApiServer, chat: int = GROUP) -> list[str]:
    return [m["text"] for m in server.messages(chat) if is_announcement(m)]


async def wait_results(server: BotApiServer, count: int, timeout: float = 10.0) -> list[str]:
    calls = await server.wait_for(
        "sendMessage",
        chat_id=GROUP,
        predicate=lambda c: c.ok and is_announcement(c.result),
        count=count,
        timeout=timeout,
    )
    return [c.result["text"] for c in calls]


async def ingest(data: Path, table: Path) -> dict:
    """`python -m bot ingest --json TABLE` on the bot's data dir, exactly as an operator runs it."""
    env = {
        **os.environ,
        "MARKETBOT_DATA_DIR": str(data),
        "TELEGRAM_BOT_TOKEN": "",
        "DATABASE_URL": "",
        "CHROMA_URL": "",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "ingest", "--json", str(table),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


def table(tmp_path: Path, name: str, *rows: str) -> Path:
    path = tmp_path / name
    path.write_text(TABLE_HEADER + "".join(rows), encoding="utf-8")
    return path


def ranking(results: str) -> list[tuple[int, str, str]]:
    """(rank, name, error) of each ranking line of a results message."""
    return [(int(r), n, e) for r, n, e in re.findall(r"^(\d+)\. (\S+?)[:：].*?误差 ([\d.]+)$", results, re.M)]


def leaderboard(text: str) -> list[tuple[str, str, int, int]]:
    """(name, mean error, polls played, best rank) per line of /leaderboard, in order (Chinese wording)."""
    rows = re.findall(r"^\d+\. (\S+?):平均误差 ([\d.]+),参与 (\d+) 次,最好名次 (\d+)$", text, re.M)
    return [(name, score, int(n), int(best)) for name, score, n, best in rows]


def log_error(predicted: float, actual: float) -> float:
    return abs(math.log(predicted / actual))


def decoded_png(server: BotApiServer, call) -> object:
    data = server.file(call.result["photo"][-1]["file_id"]).data
    assert data[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(io.BytesIO(data))
    assert image.shape[0] >= 100 and image.shape[1] >= 100
    return image


# --- 1. opening ------------------------------------------------------------------------------------------


async def test_admin_opens_a_poll_with_history_instructions_and_a_native_poll(group_bot):
    server = group_bot
    refusal = await say(server, ANN, "/newpoll maas_tokens 2025 2027-06-30")
    assert "only admins" in refusal
    assert await say(server, ANN, "/polls") == "There is no open poll in this chat."
    assert server.sent("sendPoll") == []

    poll_id, text, native = await open_poll(server)
    assert text.startswith(f"#{poll_id} ")
    assert "114.2 万亿" in text and "536.7 万亿" in text  # 2024 full year and 2025H1
    assert f"/predict #{poll_id} 1500万亿" in text
    assert "2027-06-30" in text
    assert native["is_anonymous"] is False
    assert 4 <= len(native["options"]) <= 6
    assert native["type"] == "regular" and not native["allows_multiple_answers"]
    listed = await say(server, ANN, "/polls")
    assert f"#{poll_id} " in listed and "(0 predictors, closes 2027-06-30)" in listed


# --- 2 and 5. predicting, revising, refusals, closing -----------------------------------------------------


async def test_predictions_in_every_form_revisions_refusals_and_closing(group_bot):
    server = group_bot
    poll_id, _, _ = await open_poll(server)
    forms = ["1500万亿", "1.5千万亿", "1.5 quadrillion", "1500T", "1.5e15", "一千五百万亿"]
    people = [ANN, BOB, CAT, DAN, EVE, FAY]
    for person, form in zip(people, forms, strict=True):
        confirmation = await predict(server, person, form)
        assert f"#{poll_id}" in confirmation, (form, confirmation)
        assert "1,500 万亿" in confirmation and "1.5 quadrillion" in confirmation, (form, confirmation)
        assert "replace" not in confirmation and "替换" not in confirmation
    with_id = await predict(server, GUS, f"#{poll_id} 1200万亿")
    assert with_id.startswith(f"Recorded #{poll_id}: ") and "1,200 万亿" in with_id
    assert await predictors(server, poll_id) == 7

    revised = await predict(server, ANN, "1400万亿")
    assert "1,400 万亿" in revised and "replaces your earlier prediction" in revised
    revised_zh = await predict(server, BOB, "1.6e15")
    assert "1,600 万亿" in revised_zh and "替换" in revised_zh
    assert await predictors(server, poll_id) == 7

    refusals = {
        "lots": "could not read a number",
        "0": "above zero",
        "-5万亿": "above zero",
        "45%": "a token total is a count",
    }
    for value, reason in refusals.items():
        refusal = await predict(server, ZHO if value == "0" else CAT, value)
        assert reason in refusal, (value, refusal)
        assert "Recorded" not in refusal and "已记录" not in refusal
    assert "用法" in await predict(server, ZHO, "")  # /predict alone: the usage
    assert await predict(server, ANN, "1500万亿", chat=OTHER_GROUP) == "There is no open poll in this chat."
    unknown = await predict(server, ANN, f"#{poll_id} 1500万亿", chat=OTHER_GROUP)
    assert unknown.startswith("There is no poll with that number in this chat.")
    assert await predictors(server, poll_id) == 7

    assert "only admins" in await say(server, ANN, f"/closepoll {poll_id}")
    assert "进行中" in await poll_summary(server, poll_id)
    closed = await say(server, ADMIN, f"/closepoll {poll_id}")
    assert closed.startswith(f"投票 #{poll_id} 已截止")
    after_close = await predict(server, CAT, f"#{poll_id} 1500万亿")
    assert after_close == f"Poll #{poll_id} is closed: predictions are closed."
    assert await predict(server, CAT, "1500万亿") == "There is no open poll in this chat."
    again = await say(server, ADMIN, f"/closepoll {poll_id}")
    assert "不能再预测" in again  # already closed: says so, changes nothing
    summary = await poll_summary(server, poll_id)
    assert "已截止" in summary and count_in(summary) == 7
    assert await say(server, ANN, "/polls") == "There is no open poll in this chat."


async def test_a_number_with_a_spaced_unit_is_a_prediction_not_a_poll_number(group_bot):
    """ "1500 万亿" and "2000 trillion" read as numbers (parse_prediction takes them); /predict must not
    take their leading integer for a poll number."""
    server = group_bot
    poll_id, _, _ = await open_poll(server)
    spaced = await predict(server, BOB, "1500 万亿")
    assert spaced.startswith(f"已记录 #{poll_id}:1,500 万亿"), spaced
    spaced_en = await predict(server, ANN, "2000 trillion")
    assert spaced_en.startswith(f"Recorded #{poll_id}: 2 quadrillion"), spaced_en


async def test_chinese_refusals_name_the_poll_status_in_chinese(group_bot):
    server = group_bot
    poll_id, _, _ = await open_poll(server)
    await say(server, ADMIN, f"/closepoll {poll_id}")
    refusal = await predict(server, BOB, f"#{poll_id} 1500万亿")
    assert refusal.startswith(f"投票 #{poll_id} 已")
    assert "closed" not in refusal, refusal  # "已截止", not "已closed"


# --- 3. votes in the native poll --------------------------------------------------------------------------


async def test_native_poll_votes_count_as_range_predictions_and_retracting_removes_them(
    group_bot, server, tmp_path
):
    poll_id, _, native = await open_poll(server)
    server.push_poll_answer(native["id"], ANN.id, [2])
    await quiet(server)
    assert await predictors(server, poll_id) == 1
    await predict(server, BOB, "1500万亿")
    server.push_poll_answer(native["id"], CAT.id, [0])
    await quiet(server)
    assert await predictors(server, poll_id) == 3

    storage = Storage(database_url(server, tmp_path))
    await storage.open()
    try:
        poll = await storage.get_poll(poll_id)
        by_user = {p.user_id: p for p in await storage.predictions(poll_id)}
    finally:
        await storage.close()
    assert poll is not None and poll.native_poll_id == native["id"]
    assert (by_user[ANN.id].value, (by_user[ANN.id].low, by_user[ANN.id].high)) == (None, poll.ranges[2])
    assert by_user[CAT.id].low is None and by_user[CAT.id].high == poll.ranges[0][1]

    server.push_poll_answer(native["id"], ANN.id, [])  # retracted
    await quiet(server)
    assert await predictors(server, poll_id) == 2
    server.push_poll_answer(native["id"], ANN.id, [3])  # and voted again
    server.push_poll_answer(native["id"], CAT.id, [1])  # changed vote: still one prediction
    await quiet(server)
    assert await predictors(server, poll_id) == 3


# --- 4. the crowd: /polls and /poll -------------------------------------------------------------------------


async def test_polls_lists_counts_and_poll_shows_the_crowd_but_no_individual_value(group_bot):
    server = group_bot
    poll_id, _, _ = await open_poll(server)
    for person, value in [
        (ANN, "1234万亿"),
        (BOB, "1500万亿"),
        (CAT, "1800万亿"),
        (DAN, "2000万亿"),
        (EVE, "3000万亿"),
    ]:
        await predict(server, person, value)
    listed = await say(server, ZHO, "/polls")
    assert listed.startswith("进行中的投票:")
    assert re.search(rf"^#{poll_id} .*\(5 人预测,截止 2027-06-30\)$", listed, re.M), listed

    before = len(server.sent("sendPhoto", GROUP))
    summary = await poll_summary(server, poll_id)
    assert count_in(summary) == 5
    assert "中位数 1,800 万亿" in summary and "四分位 1,500 万亿 至 2,000 万亿" in summary
    for private in ("1,234", "1.234", "3,000", "3 千万亿", "3 quadrillion"):
        assert private not in summary, (private, summary)
    [photo] = (await server.wait_for("sendPhoto", chat_id=GROUP, predicate=lambda c: c.ok, count=before + 1))[
        before:
    ]
    assert photo.result["caption"] == f"#{poll_id}"
    decoded_png(server, photo)
    assert "There is no poll" in await say(server, ANN, "/poll 999")


# --- 6 and 7. resolution by ingest, by hand, and the leaderboard -------------------------------------------


async def test_ingest_resolves_the_poll_announces_the_ranking_once_and_the_leaderboard_combines_polls(
    group_bot, server, tmp_path
):
    poll_id, _, _ = await open_poll(server)
    # In order of prediction; Dan and Eve tie exactly and Dan predicted first (Eve has the lower user id).
    first = [(FAY, 1000), (ANN, 1500), (DAN, 1400), (BOB, 1200), (EVE, 1400), (CAT, 1234)]
    for person, value in first:
        await predict(server, person, f"{value}万亿")
    await say(server, ADMIN, f"/closepoll {poll_id}")  # a closed poll still resolves

    result = await ingest(data_dir(tmp_path), table(tmp_path, "idc_2025.csv", IDC_2025))
    assert result["summary"] == "1 new, 0 revised, 0 unchanged"
    assert result["resolved_polls"] == [poll_id]
    [results] = await wait_results(server, 1)

    actual = 1300
    assert "实际:1,300 万亿" in results
    assert "IDC 2025 全年" in results and "idc.example" in results
    median = (1234 + 1400) / 2
    assert f"群体中位数 1,317 万亿,误差 {log_error(median, actual):.2g}" in results
    expected = sorted(enumerate(first), key=lambda item: (log_error(item[1][1], actual), item[0]))
    assert [(rank, name) for rank, name, _ in ranking(results)] == [
        (rank, person.name) for rank, (_, (person, _)) in enumerate(expected, 1)
    ]
    assert [name for _, name, _ in ranking(results)] == ["Cat", "Dan", "Eve", "Bob", "Ann", "Fay"]
    for _, name, error in ranking(results):
        value = dict((p.name, v) for p, v in first)[name]
        assert float(error) == pytest.approx(log_error(value, actual), abs=0.006)

    again = await ingest(data_dir(tmp_path), table(tmp_path, "idc_2025.csv", IDC_2025))
    assert again["summary"] == "0 new, 0 revised, 1 unchanged" and again["resolved_polls"] == []
    await asyncio.sleep(4 * JOB_INTERVAL)
    assert len(results_messages(server)) == 1
    assert (await poll_summary(server, poll_id)).startswith(RESULTS_PREFIX)  # /poll now shows the results
    assert (
        await predict(server, ANN, f"#{poll_id} 1300万亿")
        == f"Poll #{poll_id} is resolved: predictions are closed."
    )

    scores_1 = {p.name: log_error(v, actual) for p, v in first}
    board = leaderboard(await say(server, ADMIN, "/leaderboard"))
    assert {name: (score, n, best) for name, score, n, best in board} == {
        name: (f"{scores_1[name]:.3f}", 1, rank) for rank, name, _ in ranking(results)
    }

    # A second poll, resolved by the admin by hand; the leaderboard averages both.
    second_id, _, _ = await open_poll(server, "maas_tokens 2026H1")
    assert second_id != poll_id
    second = [(ANN, 1000), (BOB, 850), (CAT, 600), (DAN, 950), (GUS, 880)]
    for person, value in second:
        await predict(server, person, f"{value}万亿")
    assert "only admins" in await say(server, ANN, f"/resolve {second_id} 900万亿")
    push(server, ADMIN, f"/resolve {second_id} 900万亿")
    by_hand = (await wait_results(server, 2))[1]
    assert "实际:900 万亿" in by_hand and "管理员 Ada 手动录入" in by_hand
    assert [name for _, name, _ in ranking(by_hand)] == ["Gus", "Dan", "Bob", "Ann", "Cat"]

    scores_2 = {p.name: log_error(v, 900) for p, v in second}
    ranks = {name: rank for rank, name, _ in ranking(results)}
    ranks_2 = {name: rank for rank, name, _ in ranking(by_hand)}
    expected_board = {}
    for name in scores_1.keys() | scores_2.keys():
        played = [s[name] for s in (scores_1, scores_2) if name in s]
        best = min(r[name] for r in (ranks, ranks_2) if name in r)
        expected_board[name] = (sum(played) / len(played), len(played), best)
    board = leaderboard(await say(server, ADMIN, "/leaderboard"))
    assert [name for name, *_ in board] == sorted(expected_board, key=lambda n: expected_board[n][0])
    assert {name: (score, n, best) for name, score, n, best in board} == {
        name: (f"{mean:.3f}", n, best) for name, (mean, n, best) in expected_board.items()
    }
    assert len(results_messages(server)) == 2


async def test_leaderboard_breaks_a_tie_as_the_poll_ranking_did(group_bot):
    """Dan and Eve predicted the same figure; Dan was first, so the results rank him 2nd and Eve 3rd.
    With one poll played their means are equal: the leaderboard should not contradict the ranking."""
    server = group_bot
    poll_id, _, _ = await open_poll(server)
    for person, value in [(CAT, "1300万亿"), (DAN, "1400万亿"), (EVE, "1400万亿")]:
        await predict(server, person, value)
    push(server, ADMIN, f"/resolve {poll_id} 1300万亿")
    [results] = await wait_results(server, 1)
    assert [name for _, name, _ in ranking(results)] == ["Cat", "Dan", "Eve"]
    board = leaderboard(await say(server, ADMIN, "/leaderboard"))
    assert [(name, best) for name, _, _, best in board] == [("Cat", 1), ("Dan", 2), ("Eve", 3)]


async def test_an_ingest_for_another_period_resolves_nothing(group_bot, server, tmp_path):
    poll_id, _, _ = await open_poll(server)
    await predict(server, ANN, "1500万亿")
    result = await ingest(data_dir(tmp_path), table(tmp_path, "idc_2026.csv", IDC_2026))
    assert result["summary"] == "1 new, 0 revised, 0 unchanged"
    assert result["resolved_polls"] == []
    await asyncio.sleep(4 * JOB_INTERVAL)
    assert results_messages(server) == []
    assert f"#{poll_id} " in await say(server, ANN, "/polls")
    assert await predict(server, BOB, "1600万亿") == f"已记录 #{poll_id}:1,600 万亿(1.6 quadrillion)"
    assert await predictors(server, poll_id) == 2


async def test_results_that_telegram_fails_to_take_are_announced_later_and_once(group_bot, server, tmp_path):
    poll_id, _, _ = await open_poll(server)
    await predict(server, ANN, "1500万亿")
    # Every attempt of the first announcement round fails (the request layer retries 5xx three times).
    server.fail_next("sendMessage", 502, chat_id=GROUP, times=4)
    result = await ingest(data_dir(tmp_path), table(tmp_path, "idc_2025.csv", IDC_2025))
    assert result["resolved_polls"] == [poll_id]
    [results] = await wait_results(server, 1, timeout=30)
    assert "实际:1,300 万亿" in results
    failed = [c for c in server.sent("sendMessage", chat_id=GROUP) if c.status == 502]
    assert len(failed) == 4, "the first round really failed"
    await asyncio.sleep(5 * JOB_INTERVAL)
    assert len(results_messages(server)) == 1


async def test_results_for_a_chat_that_removed_the_bot_are_dropped_not_retried_forever(
    group_bot, server, tmp_path
):
    poll_id, _, _ = await open_poll(server)
    server.fail_next("sendMessage", 403, chat_id=GROUP, times=None, description="Forbidden: bot was kicked")
    await ingest(data_dir(tmp_path), table(tmp_path, "idc_2025.csv", IDC_2025))
    await server.wait_for("sendMessage", chat_id=GROUP, predicate=lambda c: c.status == 403, timeout=30)
    await asyncio.sleep(5 * JOB_INTERVAL)
    assert len([c for c in server.sent("sendMessage", chat_id=GROUP) if c.status == 403]) == 1
    storage = Storage(database_url(server, tmp_path))
    await storage.open()
    try:
        assert await storage.pending_announcements() == []
        poll = await storage.get_poll(poll_id)
        assert poll is not None and poll.status == "resolved"
    finally:
        await storage.close()


# --- 8. a restart in the middle -----------------------------------------------------------------------------


async def test_a_restart_loses_nothing(server, services, tmp_path, relaxed_group_limit):
    async with running_bot(server, tmp_path, services=services, job_interval=JOB_INTERVAL):
        poll_id, _, native = await open_poll(server)
        await predict(server, ANN, "1500万亿")
        await predict(server, BOB, "1200万亿")
        server.push_poll_answer(native["id"], CAT.id, [1])
        await quiet(server)
        assert await predictors(server, poll_id) == 3
        before = await poll_summary(server, poll_id)
    replies_before = len(server.sent("sendMessage", GROUP))

    async with running_bot(server, tmp_path, services=services, job_interval=JOB_INTERVAL):
        listed = await say(server, ZHO, "/polls")
        assert re.search(rf"^#{poll_id} .*\(3 人预测,截止 2027-06-30\)$", listed, re.M), listed
        assert await poll_summary(server, poll_id) == before
        revised = await predict(server, ANN, "1400万亿")
        assert "1,400 万亿" in revised and "replaces your earlier prediction" in revised
        assert await predictors(server, poll_id) == 3
        server.push_poll_answer(native["id"], DAN.id, [2])  # the native poll is still tied to the poll
        await quiet(server)
        assert await predictors(server, poll_id) == 4
    # Nothing handled before the restart was handled again: one reply per message, 5 of them after it.
    replied = [
        c.result["reply_to_message"]["message_id"]
        for c in server.sent("sendMessage", GROUP)
        if c.ok and "reply_to_message" in c.result
    ]
    assert sorted(replied) == sorted(set(replied))
    assert len(server.sent("sendMessage", GROUP)) == replies_before + 5


# --- 9. a burst of 500 predictions ----------------------------------------------------------------------------


async def test_500_predictions_at_once_are_all_recorded(server, services, tmp_path, no_rate_limit):
    users = [Person(10_000 + i, f"user{i}") for i in range(500)]
    async with running_bot(server, tmp_path, services=services, job_interval=JOB_INTERVAL):
        poll_id, _, _ = await open_poll(server)
        before = len(server.sent("sendMessage", GROUP))
        started = time.monotonic()
        for i, user in enumerate(users):
            push(server, user, f"/predict {1000 + i}万亿")
        confirmations = await server.wait_for(
            "sendMessage",
            chat_id=GROUP,
            predicate=lambda c: c.ok and c.result["text"].startswith("Recorded"),
            count=500,
            timeout=30,
        )
        elapsed = time.monotonic() - started
        assert len(server.sent("sendMessage", GROUP)) == before + 500
        assert all("replaces" not in c.result["text"] for c in confirmations)
        assert await predictors(server, poll_id) == 500

        storage = Storage(database_url(server, tmp_path))
        await storage.open()
        try:
            stored = {p.user_id: p.value for p in await storage.predictions(poll_id)}
        finally:
            await storage.close()
    assert len(stored) == 500
    assert stored == {user.id: pytest.approx((1000 + i) * T) for i, user in enumerate(users)}
    assert elapsed < 30


# --- the shipped flood limiter ------------------------------------------------------------------------------


async def test_a_busy_group_does_not_stall_other_chats(server, services, tmp_path):
    """With the shipped limiter (20 messages a minute per group, as Telegram allows): a group that has
    used its budget must wait, but a private chat should still be answered promptly."""
    async with running_bot(server, tmp_path, services=services, job_interval=JOB_INTERVAL):
        await open_poll(server)  # 2 messages to the group (sendMessage and sendPoll)
        for i in range(20):  # 18 confirmations fit the group's budget; the last 2 must wait ~3 s each
            push(server, Person(20_000 + i, f"p{i}"), f"/predict {1000 + i}万亿")
        started = time.monotonic()
        message = server.push_message(600, "/polls", user_id=600, first_name="Pat", language_code="en")
        await server.wait_for("sendMessage", chat_id=600, predicate=replies_to(message), timeout=20)
        waited = time.monotonic() - started
        await server.wait_for("sendMessage", chat_id=GROUP, count=1 + 20, timeout=20)
        assert waited < 2, f"a private /polls waited {waited:.1f} s behind the group's rate-limited replies"
