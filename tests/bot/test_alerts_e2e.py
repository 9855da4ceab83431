"""Data and news alerts end to end: the real application (`build_application`, real SQLite in the test's data
dir) polling the Bot API test server, from /subscribe to the alert in each subscriber's chat.

Every door into the data is used: an admin's upload with caption /ingest, the inbox folder, and
`python -m bot ingest` (a subprocess, as an operator runs it). The crash test runs `python -m bot run` as a
real process and SIGKILLs it in the middle of a delivery.

Each test has its own data dir (`tmp_path / "bot-data"`), used by the bot's settings, its `Services` (so
uploads, the inbox and the CLI all write to the same place, as in production) and its database. Telegram's
per-group limit of 20 messages a minute is lifted as in test_polls_e2e (`relaxed_group_limit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import sys
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from botapi import BotApiServer, Call
from conftest import ADMIN_ID, make_settings, running_bot
from telegram.ext import AIORateLimiter

from bot.storage import Storage
from knowledge.ingest import FactStore

ROOT = Path(__file__).resolve().parents[2]
JOB_INTERVAL = 0.3
SETTLE = 5 * JOB_INTERVAL  # long enough for any further delivery round to have run
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HEADER = "metric,entity,period,value,qualifier,unit,report,published,source,quote\n"
HEADER_ZH = "指标,主体,期间,数值,口径,单位,报告,发布,来源,原文\n"
IDC_2025 = (
    "maas_tokens,china_public_cloud,2025,1300万亿,exact,tokens,IDC 2025 全年,2026-03,idc.example,全年 1300 万亿\n"
)
H1_REVISED = "maas_tokens,china_public_cloud,2025H1,540万亿,exact,tokens,IDC 2025H1 修订,2026-03,idc.example,上半年 540 万亿\n"
DATA_PREFIXES = ("新数据", "数据修订", "New data", "New and revised data", "Revised data")
NEWS_PREFIXES = ("新闻:", "News: ")

# Private chats: the chat id is the user's id.
ZH_ALL = 201  # /subscribe (everything), Chinese
EN_ENTITY = 202  # /subscribe China public cloud, English
ZH_METRIC = 203  # /subscribe maas_tokens, Chinese
VOLCANO_ONLY = 204  # /subscribe 火山引擎: an entity the IDC total is not about
GROUP = -1001234567890


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
def relaxed_group_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's AIORateLimiter without the per-group 20/minute limit (the 30/s overall limit stays)."""
    import bot.app

    monkeypatch.setattr(bot.app, "AIORateLimiter", functools.partial(AIORateLimiter, group_max_rate=0))


def data_dir(tmp_path: Path) -> Path:
    """The bot's data dir as `running_bot` sets it (settings.marketbot_data_dir)."""
    return tmp_path / "bot-data"


def load_services(tmp_path: Path, **overrides):
    """Services over the bot's own data dir, as `python -m bot run` builds them from the same settings."""
    from bot.services import Services

    return Services.load(make_settings(None, data_dir(tmp_path), **overrides))


@pytest.fixture
def bot_services(tmp_path: Path):
    return load_services(tmp_path)


@pytest.fixture
async def alert_bot(server: BotApiServer, bot_services, tmp_path: Path, relaxed_group_limit) -> AsyncIterator:
    async with running_bot(server, tmp_path, services=bot_services, job_interval=JOB_INTERVAL) as (app, _):
        yield app


@contextlib.asynccontextmanager
async def opened_at(data: Path) -> AsyncIterator[Storage]:
    """A second connection to the database in `data` (SQLite in WAL mode allows it while the bot runs)."""
    storage = Storage(make_settings(None, data).database)
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


def opened(tmp_path: Path) -> contextlib.AbstractAsyncContextManager[Storage]:
    """The database of the bot `running_bot` runs for this test."""
    return opened_at(data_dir(tmp_path))


# --- helpers --------------------------------------------------------------------------------------------


def replies_to(message: dict):
    def matches(call: Call) -> bool:
        return call.ok and (call.result.get("reply_to_message") or {}).get("message_id") == message["message_id"]

    return matches


async def say(
    server: BotApiServer,
    chat: int,
    text: str,
    *,
    lang: str = "en",
    user_id: int | None = None,
    chat_type: str = "private",
) -> str:
    """Push a user's message and return the text of the bot's reply to it."""
    message = server.push_message(
        chat, text, user_id=user_id, language_code=lang, chat_type=chat_type, username=None
    )
    [call] = await server.wait_for("sendMessage", chat_id=chat, predicate=replies_to(message), timeout=15)
    return call.result["text"]


async def upload(
    server: BotApiServer,
    data: bytes,
    name: str,
    *,
    user_id: int = ADMIN_ID,
    lang: str = "zh-hans",
    caption: str = "/ingest",
) -> str:
    """A user sends a file with caption /ingest in their private chat; returns the bot's reply."""
    message = server.push_document(user_id, data, name, caption=caption, user_id=user_id, language_code=lang)
    [call] = await server.wait_for("sendMessage", chat_id=user_id, predicate=replies_to(message), timeout=30)
    return call.result["text"]


def table(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return (header + "".join(rows)).encode(encoding)


def is_alert(result: dict, prefixes: tuple[str, ...] = DATA_PREFIXES + NEWS_PREFIXES) -> bool:
    """A message pushed by the delivery job (not a reply to anyone) that reads like an alert."""
    return "reply_to_message" not in result and result.get("text", "").startswith(prefixes)


def alert_calls(server: BotApiServer, chat: int, prefixes: tuple[str, ...] = DATA_PREFIXES) -> list[Call]:
    """Alerts Telegram accepted for `chat`."""
    return [c for c in server.sent("sendMessage", chat) if c.ok and is_alert(c.result, prefixes)]


async def wait_alerts(
    server: BotApiServer,
    chat: int,
    count: int = 1,
    timeout: float = 10.0,
    prefixes: tuple[str, ...] = DATA_PREFIXES,
) -> list[str]:
    calls = await server.wait_for(
        "sendMessage",
        chat_id=chat,
        predicate=lambda c: c.ok and is_alert(c.result, prefixes),
        count=count,
        timeout=timeout,
    )
    return [c.result["text"] for c in calls]


def chart_button(call: Call) -> str:
    [[button]] = call.result["reply_markup"]["inline_keyboard"]
    return button["callback_data"]


async def cli_ingest(data: Path, path: Path) -> dict:
    """`python -m bot ingest --json FILE` on the bot's data dir, exactly as an operator runs it."""
    env = {**os.environ, "MARKETBOT_DATA_DIR": str(data), "TELEGRAM_BOT_TOKEN": "", "DATABASE_URL": "",
           "CHROMA_URL": ""}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "ingest", "--json", str(path),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, err.decode()[-2000:]
    return json.loads(out)


async def subscribe_chats(server: BotApiServer) -> None:
    """The four private chats of the data tests, each following one kind of topic."""
    assert (await say(server, ZH_ALL, "/subscribe", lang="zh-hans")).startswith("已订阅:全部")
    assert "entity: China LLM public cloud" in await say(server, EN_ENTITY, "/subscribe China public cloud")
    assert "指标:大模型公有云 Tokens 调用量" in await say(server, ZH_METRIC, "/subscribe maas_tokens", lang="zh")
    assert "主体:火山引擎" in await say(server, VOLCANO_ONLY, "/subscribe 火山引擎", lang="zh-hans")


# --- 1. subscriptions -----------------------------------------------------------------------------------


async def test_subscribe_list_and_unsubscribe_in_a_private_chat(alert_bot, server, tmp_path):
    chat = 301
    assert await say(server, chat, "/alerts", lang="zh-hans") == (
        "本聊天还没有订阅。用 /subscribe 订阅全部,或 /subscribe 火山引擎、/subscribe 新闻。"
    )
    assert await say(server, chat, "/subscribe", lang="zh-hans") == "已订阅:全部。有新数据时会推送到这里。"
    assert (
        await say(server, chat, "/subscribe 火山引擎", lang="zh-hans")
        == "已订阅:主体:火山引擎。有新数据时会推送到这里。"
    )
    subscribed_metric = await say(server, chat, "/subscribe maas_tokens", lang="zh-hans")
    assert subscribed_metric == "已订阅:指标:大模型公有云 Tokens 调用量。有新数据时会推送到这里。"
    assert await say(server, chat, "/subscribe news", lang="zh-hans") == "已订阅:新闻。有新数据时会推送到这里。"
    assert await say(server, chat, "/alerts", lang="zh-hans") == (
        "本聊天订阅了:\n• 全部\n• 主体:火山引擎\n• 指标:大模型公有云 Tokens 调用量\n• 新闻"
    )
    # The same chat's list, asked by someone whose Telegram is in English.
    assert await say(server, chat, "/alerts", lang="en") == (
        "This chat follows:\n• everything\n• entity: Volcano Engine\n• metric: LLM public-cloud (MaaS) tokens\n• news"
    )

    unknown = await say(server, chat, "/subscribe 苹果", lang="zh-hans")
    assert unknown.startswith("不认识的主题「苹果」"), unknown
    for choice in (
        "• all / 全部",
        "• news / 新闻",
        "• maas_tokens: 大模型公有云 Tokens 调用量",
        "• volcano_engine: 火山引擎",
    ):
        assert choice in unknown, (choice, unknown)

    assert await say(server, chat, "/unsubscribe 火山引擎", lang="zh-hans") == "已取消订阅:主体:火山引擎。"
    assert await say(server, chat, "/unsubscribe 火山引擎", lang="zh-hans") == "本聊天没有订阅 主体:火山引擎。"
    async with opened(tmp_path) as storage:
        assert await storage.subscriptions(chat) == ["all", "metric:maas_tokens", "news"]
    assert await say(server, chat, "/unsubscribe", lang="en") == "Unsubscribed from everything."
    assert (await say(server, chat, "/alerts", lang="en")).startswith("This chat follows nothing yet.")
    async with opened(tmp_path) as storage:
        assert await storage.subscriptions(chat) == []


async def test_in_a_group_only_its_admins_or_the_bot_admins_manage_subscriptions(alert_bot, server, tmp_path):
    member, group_admin, stranger = 401, 402, 403
    server.set_member_status(GROUP, member, "member")
    server.set_member_status(GROUP, group_admin, "administrator")
    server.set_member_error(GROUP, ADMIN_ID)  # getChatMember fails: a bot admin still may
    server.set_member_error(GROUP, stranger)  # ... and anyone else may not

    refused = "Only this group's admins can change its subscriptions."
    assert await say(server, GROUP, "/subscribe", user_id=member, chat_type="supergroup") == refused
    assert await say(server, GROUP, "/subscribe news", user_id=stranger, chat_type="supergroup") == refused
    async with opened(tmp_path) as storage:
        assert await storage.subscriptions(GROUP) == []

    ok = await say(server, GROUP, "/subscribe maas_tokens", user_id=group_admin, chat_type="supergroup")
    assert ok.startswith("Subscribed to metric: LLM public-cloud (MaaS) tokens"), ok
    by_bot_admin = await say(server, GROUP, "/subscribe 新闻", user_id=ADMIN_ID, chat_type="supergroup", lang="zh")
    assert by_bot_admin.startswith("已订阅:新闻"), by_bot_admin
    assert await say(server, GROUP, "/unsubscribe", user_id=member, chat_type="supergroup") == refused
    async with opened(tmp_path) as storage:
        assert await storage.subscriptions(GROUP) == ["metric:maas_tokens", "news"]
    # Anyone may look.
    assert (await say(server, GROUP, "/alerts", user_id=member, chat_type="supergroup")).startswith(
        "This chat follows:"
    )


# --- 2. an admin's upload, delivered to the right chats in their language ----------------------------------


async def test_an_admin_upload_alerts_each_subscriber_in_its_language_with_meaning_source_and_chart(
    alert_bot, server, tmp_path
):
    await subscribe_chats(server)
    started = time.monotonic()
    assert await upload(server, table(IDC_2025), "idc_2025.csv") == "1 new, 0 revised, 0 unchanged"

    [zh_all] = await wait_alerts(server, ZH_ALL)
    [en_entity] = await wait_alerts(server, EN_ENTITY)
    [zh_metric] = await wait_alerts(server, ZH_METRIC)
    assert time.monotonic() - started < 10

    for text in (zh_all, zh_metric):
        assert text.startswith("新数据 · 大模型公有云 Tokens 调用量 · 中国大模型公有云市场"), text
        assert "2025 年:1,300 万亿" in text
        assert "为 2024 年(114.2 万亿)的 11.38×" in text, text
        assert "据此 2025 年下半年约 763.3 万亿(1,300 万亿 − 536.7 万亿)" in text, text
        assert "来源:IDC 2025 全年(2026-03);idc.example" in text, text
    assert en_entity.startswith("New data · LLM public-cloud (MaaS) tokens · China LLM public cloud"), en_entity
    assert "2025: 1.3 quadrillion" in en_entity
    assert "11.38× the 2024 figure (114.2 trillion)" in en_entity, en_entity
    assert "So H2 2025 was about 763.3 trillion" in en_entity, en_entity
    assert "Source: IDC 2025 全年 (2026-03); idc.example" in en_entity, en_entity

    await asyncio.sleep(SETTLE)
    assert alert_calls(server, VOLCANO_ONLY) == [], "a chat following only 火山引擎 got the China-wide total"
    assert alert_calls(server, ADMIN_ID) == [], "the uploader follows nothing"
    for chat in (ZH_ALL, EN_ENTITY, ZH_METRIC):
        assert len(alert_calls(server, chat)) == 1

    # The Chart button under the alert answers with a PNG of the series.
    for chat in (ZH_ALL, EN_ENTITY):
        [alert] = alert_calls(server, chat)
        data = chart_button(alert)
        assert data.startswith("alert_chart:")
        assert alert.result["reply_markup"]["inline_keyboard"][0][0]["text"] == (
            "图表" if chat == ZH_ALL else "Chart"
        )
        before = len(server.sent("sendPhoto", chat))
        server.push_callback(chat, alert.result, data)
        [*_, photo] = await server.wait_for("sendPhoto", chat_id=chat, predicate=lambda c: c.ok, count=before + 1)
        assert server.file(photo.result["photo"][-1]["file_id"]).data[:8] == PNG_SIGNATURE

    async with opened(tmp_path) as storage:
        [alert] = await storage.recent_alerts()
        assert await storage.delivery_counts(alert.id) == {"sent": 3}
        assert [await storage.sent_count(alert.id, chat) for chat in (ZH_ALL, EN_ENTITY, ZH_METRIC)] == [1, 1, 1]
        assert await storage.sent_count(alert.id, VOLCANO_ONLY) == 0


async def test_an_upload_by_a_non_admin_is_refused_and_stores_nothing(alert_bot, server, tmp_path):
    await subscribe_chats(server)
    reply = await upload(server, table(IDC_2025), "idc_2025.csv", user_id=555, lang="en")
    assert reply == "Sorry, only admins can use that command."
    zh_reply = await upload(server, table(IDC_2025), "idc_2025.csv", user_id=556, lang="zh-hans")
    assert zh_reply == "抱歉,这个命令只有管理员可以使用。"
    await asyncio.sleep(SETTLE)
    for chat in (ZH_ALL, EN_ENTITY, ZH_METRIC, VOLCANO_ONLY):
        assert alert_calls(server, chat) == []
    assert FactStore(data_dir(tmp_path)).facts() == []
    async with opened(tmp_path) as storage:
        assert await storage.recent_alerts() == []
    answer = await say(server, 557, "/ask 2025 年全年公有云调用量", lang="zh-hans")
    assert "数据中没有" in answer, answer
    for shown in ("1,300 万亿", "1300 万亿", "1.3 quadrillion", "1,300"):
        assert shown not in answer, (shown, answer)


# --- 3. broken files ------------------------------------------------------------------------------------


async def test_broken_uploads_are_refused_with_their_problems_and_a_gbk_table_works(alert_bot, server, tmp_path):
    await subscribe_chats(server)
    wrong_columns = await upload(server, b"name,amount\nIDC,1300\n", "wrong.csv")
    assert "nothing was loaded" in wrong_columns, wrong_columns
    assert "wrong.csv, column metric: required column is missing (found: name, amount)" in wrong_columns

    bad = table(
        "maas_tokens,china_public_cloud,2025,lots,exact,tokens,IDC,2026-03,idc.example,x\n",
        "maas_tokens,china_public_cloud,2026,-5万亿,exact,tokens,IDC,2027-03,idc.example,x\n",
    )
    bad_numbers = await upload(server, bad, "bad_numbers.csv")
    assert bad_numbers.startswith("2 problem(s) found; nothing was loaded:"), bad_numbers
    assert "bad_numbers.csv, row 2, column value: cannot read the value" in bad_numbers
    assert "bad_numbers.csv, row 3, column value: a token count must be positive" in bad_numbers

    junk = await upload(server, bytes(range(256)) * 8, "junk.csv")
    assert "junk.csv: not a text table" in junk, junk

    for name in ("setup.exe", "notes.txt"):
        refused = await upload(server, b"MZ\x90\x00" if name.endswith(".exe") else b"hello", name)
        assert refused == f"「{name}」不是支持的格式:请上传 CSV、XLSX 或 Markdown 表格。", refused
    english = await upload(server, b"MZ\x90\x00", "setup.exe", lang="en")
    assert english == "“setup.exe” is not a supported file: send a CSV, XLSX or Markdown table."

    await asyncio.sleep(SETTLE)
    assert FactStore(data_dir(tmp_path)).facts() == []
    for chat in (ZH_ALL, EN_ENTITY, ZH_METRIC):
        assert alert_calls(server, chat) == []

    gbk = table(IDC_2025, header=HEADER_ZH, encoding="gbk")
    gbk.decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    assert await upload(server, gbk, "idc_2025_gbk.csv") == "1 new, 0 revised, 0 unchanged"
    [text] = await wait_alerts(server, ZH_ALL)
    assert "2025 年:1,300 万亿" in text and "来源:IDC 2025 全年(2026-03);idc.example" in text


# --- 4. the same data twice ------------------------------------------------------------------------------


async def test_the_same_file_ingested_again_by_upload_or_cli_alerts_nobody(alert_bot, server, tmp_path):
    await subscribe_chats(server)
    assert await upload(server, table(IDC_2025), "idc_2025.csv") == "1 new, 0 revised, 0 unchanged"
    for chat in (ZH_ALL, EN_ENTITY, ZH_METRIC):
        await wait_alerts(server, chat)

    assert await upload(server, table(IDC_2025), "idc_2025.csv") == "0 new, 0 revised, 1 unchanged"
    path = tmp_path / "idc_2025.csv"
    path.write_bytes(table(IDC_2025))
    again = await cli_ingest(data_dir(tmp_path), path)
    assert again["summary"] == "0 new, 0 revised, 1 unchanged" and again["alerts"] == []
    # The same figure under another file name, with Chinese headers: still the same data.
    assert await upload(server, table(IDC_2025, header=HEADER_ZH), "copy.csv") == "0 new, 0 revised, 1 unchanged"

    await asyncio.sleep(SETTLE)
    for chat in (ZH_ALL, EN_ENTITY, ZH_METRIC):
        assert len(alert_calls(server, chat)) == 1, server.texts(chat)
    async with opened(tmp_path) as storage:
        assert len(await storage.recent_alerts()) == 1


# --- 5. a revised figure ----------------------------------------------------------------------------------


async def test_a_revised_figure_is_alerted_as_a_revision_with_the_old_and_new_values(alert_bot, server):
    await subscribe_chats(server)
    assert await upload(server, table(H1_REVISED), "idc_2025h1.csv") == "0 new, 1 revised, 0 unchanged"
    [zh] = await wait_alerts(server, ZH_ALL)
    [en] = await wait_alerts(server, EN_ENTITY)
    assert zh.startswith("数据修订 · 大模型公有云 Tokens 调用量"), zh
    assert "2025 年上半年 修订:由 536.7 万亿 改为 540 万亿(+0.61%)" in zh, zh
    assert en.startswith("Revised data · LLM public-cloud (MaaS) tokens"), en
    assert "H1 2025 — Revised: from 536.7 trillion to 540 trillion (+0.61%)" in en, en
    assert "Source: IDC 2025H1 修订 (2026-03); idc.example" in en, en


# --- 6. the inbox folder ----------------------------------------------------------------------------------


async def wait_for_file(folder: Path, pattern: str, timeout: float = 10.0) -> Path:
    deadline = time.monotonic() + timeout
    while True:
        found = sorted(folder.glob(pattern)) if folder.is_dir() else []
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"nothing matching {pattern} in {folder} after {timeout}s"
        await asyncio.sleep(0.1)


async def test_a_file_dropped_in_the_inbox_is_ingested_and_alerted_and_a_broken_one_is_set_aside(
    alert_bot, server, tmp_path
):
    await subscribe_chats(server)
    inbox = data_dir(tmp_path) / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "idc_2025.csv").write_bytes(table(IDC_2025))
    [text] = await wait_alerts(server, ZH_ALL)
    assert "2025 年:1,300 万亿" in text
    await wait_alerts(server, EN_ENTITY)
    processed = await wait_for_file(inbox / "processed", "*idc_2025.csv")
    assert processed.read_bytes() == table(IDC_2025)
    assert not (inbox / "idc_2025.csv").exists()

    bad = table("maas_tokens,china_public_cloud,2026,lots,exact,tokens,IDC,2027-03,idc.example,x\n")
    (inbox / "broken.csv").write_bytes(bad)
    failed = await wait_for_file(inbox / "failed", "*broken.csv")
    report = failed.with_name(failed.name + ".errors.txt")
    assert report.is_file(), sorted(p.name for p in failed.parent.iterdir())
    assert "broken.csv, row 2, column value: cannot read the value" in report.read_text(encoding="utf-8")
    assert failed.read_bytes() == bad and not (inbox / "broken.csv").exists()
    await asyncio.sleep(SETTLE)
    for chat in (ZH_ALL, EN_ENTITY, ZH_METRIC):
        assert len(alert_calls(server, chat)) == 1, server.texts(chat)
    assert alert_calls(server, VOLCANO_ONLY) == []


# --- 7. ingested while the bot was stopped ---------------------------------------------------------------


async def test_a_cli_ingest_while_the_bot_is_stopped_is_delivered_once_after_start(
    server, bot_services, tmp_path, relaxed_group_limit
):
    async with running_bot(server, tmp_path, services=bot_services, job_interval=JOB_INTERVAL):
        await subscribe_chats(server)
    path = tmp_path / "idc_2025.csv"
    path.write_bytes(table(IDC_2025))
    result = await cli_ingest(data_dir(tmp_path), path)
    assert result["summary"] == "1 new, 0 revised, 0 unchanged" and len(result["alerts"]) == 1
    assert all(alert_calls(server, chat) == [] for chat in (ZH_ALL, EN_ENTITY, ZH_METRIC))

    async with running_bot(server, tmp_path, services=bot_services, job_interval=JOB_INTERVAL):
        for chat in (ZH_ALL, EN_ENTITY, ZH_METRIC):
            await wait_alerts(server, chat)
        await asyncio.sleep(SETTLE)
    async with running_bot(server, tmp_path, services=bot_services, job_interval=JOB_INTERVAL):
        await asyncio.sleep(SETTLE + 1.0)
    for chat in (ZH_ALL, EN_ENTITY, ZH_METRIC):
        assert len(alert_calls(server, chat)) == 1, server.texts(chat)
    assert alert_calls(server, VOLCANO_ONLY) == []
    async with opened(tmp_path) as storage:
        assert await storage.delivery_counts(result["alerts"][0]) == {"sent": 3}


# --- 8. Telegram refusing or failing ----------------------------------------------------------------------


async def test_delivery_survives_429_and_500_and_a_blocked_chat_is_unsubscribed(alert_bot, server, tmp_path):
    throttled, throttled_long, failing, blocked, fine = 501, 502, 503, 504, 505
    for chat in (throttled, throttled_long, failing, blocked, fine):
        assert (await say(server, chat, "/subscribe")).startswith("Subscribed to everything")
    server.fail_next("sendMessage", 429, retry_after=1, chat_id=throttled)
    # Four in a row outlast the rate limiter's 3 retries: the delivery job's own retry takes over.
    server.fail_next("sendMessage", 429, retry_after=1, chat_id=throttled_long, times=4)
    server.fail_next("sendMessage", 500, chat_id=failing)
    server.fail_next("sendMessage", 403, chat_id=blocked)  # "Forbidden: bot was blocked by the user"

    assert await upload(server, table(IDC_2025), "idc_2025.csv") == "1 new, 0 revised, 0 unchanged"
    for chat in (throttled, failing, fine):
        await wait_alerts(server, chat, timeout=15)
    await wait_alerts(server, throttled_long, timeout=20)
    await asyncio.sleep(SETTLE + 1.5)

    statuses = {chat: [c.status for c in server.sent("sendMessage", chat)][1:] for chat in (throttled, failing)}
    assert statuses == {throttled: [429, 200], failing: [500, 200]}, statuses
    assert [c.status for c in server.sent("sendMessage", throttled_long)][1:] == [429] * 4 + [200]
    assert [c.status for c in server.sent("sendMessage", blocked)][1:] == [403]
    for chat in (throttled, throttled_long, failing, fine):
        assert len(alert_calls(server, chat)) == 1, (chat, server.texts(chat))
    async with opened(tmp_path) as storage:
        [alert] = await storage.recent_alerts()
        assert await storage.delivery_counts(alert.id) == {"sent": 4, "dropped": 1}
        assert await storage.subscriptions(blocked) == []
        assert await storage.subscriptions(fine) == ["all"]
    assert (await say(server, blocked, "/alerts")).startswith("This chat follows nothing yet.")


# --- 9. a crash in the middle of a delivery -----------------------------------------------------------------


async def start_bot(server: BotApiServer, workdir: Path, name: str) -> asyncio.subprocess.Process:
    """`python -m bot run` configured by `.env` alone, as in test_run.py; output goes to files."""
    (workdir / ".env").write_text(
        f"TELEGRAM_BOT_TOKEN={server.token}\n"
        f"TELEGRAM_API_BASE_URL={server.base_url}\n"
        f"TELEGRAM_FILE_BASE_URL={server.file_url}\n"
        "MARKETBOT_DATA_DIR=./var\n",
        encoding="utf-8",
    )
    prefixes = ("TELEGRAM_", "MARKETBOT_", "LLM_", "DATABASE_URL", "CHROMA_URL", "FEED_", "ADMIN_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    log = (workdir / f"{name}.log").open("wb")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=workdir, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def test_a_bot_killed_mid_delivery_delivers_to_everyone_exactly_once_after_restart(
    server: BotApiServer, tmp_path: Path
):
    chats = [700_000 + i for i in range(200)]
    var = tmp_path / "var"
    async with opened_at(var) as storage:
        for chat in chats:
            await storage.subscribe(chat, "all")
    path = tmp_path / "idc_2025.csv"
    path.write_bytes(table(IDC_2025))
    [alert_id] = (await cli_ingest(var, path))["alerts"]

    server.delay("sendMessage", 0.02)

    def delivered(call: Call) -> bool:
        return call.ok and is_alert(call.result)

    first = await start_bot(server, tmp_path, "first")
    try:
        await server.wait_for("sendMessage", predicate=delivered, count=25, timeout=90)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    await asyncio.sleep(0.2)  # a request in flight at the kill is answered (or not) by now
    before_kill = [c for c in server.sent("sendMessage") if delivered(c)]
    unanswered = [c.chat_id for c in server.sent("sendMessage") if c.status is None]
    assert 25 <= len(before_kill) < len(chats), "the kill must land in the middle of the delivery"
    async with opened_at(var) as check:
        at_kill = await check.delivery_counts(alert_id)
        # Accepted by Telegram but not yet marked sent when the process died: the message in flight.
        accepted = sorted({int(c.chat_id) for c in before_kill})
        in_flight = [chat for chat in accepted if await check.sent_count(alert_id, chat) == 0]
    assert len(in_flight) <= 1, f"each delivery is marked sent right after Telegram accepts it: {in_flight}"

    second = await start_bot(server, tmp_path, "second")
    started = time.monotonic()
    try:
        deadline = started + 100  # claims of the killed process are taken over when their 30 s lease ends
        while True:
            got = {c.chat_id for c in server.sent("sendMessage") if delivered(c)}
            if got >= set(chats) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        await asyncio.sleep(3.5)  # any duplicate would be sent by the next round (the job runs every 3 s)
        took = time.monotonic() - started
        async with opened_at(var) as check:
            final = await check.delivery_counts(alert_id)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(second.wait(), 30)
        except TimeoutError:
            second.kill()
            await second.wait()

    per_chat: dict[int, int] = {}
    for call in server.sent("sendMessage"):
        if delivered(call):
            per_chat[int(call.chat_id)] = per_chat.get(int(call.chat_id), 0) + 1
    missing = [chat for chat in chats if chat not in per_chat]
    twice = {chat: n for chat, n in per_chat.items() if n > 1}
    context = (
        f"{len(before_kill)} sent before SIGKILL; deliveries at the kill: {at_kill}; unanswered requests at "
        f"the kill: {unanswered}; accepted but not marked sent at the kill: {in_flight}; after restart: "
        f"{final} in {took:.1f}s"
    )
    assert not twice, f"never the same alert twice to a chat, across a crash too: {twice}; {context}"
    # Exactly once for every subscriber. The only possible loss is a send cut off after it was marked
    # `sending` but before the request reached Telegram (then settled as sent, unconfirmed): at most one.
    assert len(missing) <= 1, f"subscribers that never got the alert: {missing}; {context}"
    if missing:
        warnings.warn(f"the send cut off by SIGKILL never reached Telegram: {missing}; {context}", stacklevel=1)
    assert final == {"sent": len(chats)}, context


# --- 10. news feeds -----------------------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>Market news</title><link>https://news.example/</link><description>Daily market news</description>
<item><title>IDC:大模型公有云调用量 2025 年达 1300 万亿</title><link>https://news.example/idc-2025</link>
<guid>news-idc-2025</guid><description>报告称调用量大增</description></item>
<item><title>某手机厂商发布新品</title><link>https://news.example/phone</link>
<guid>news-phone</guid><description>新款手机今天上市</description></item>
</channel></rss>
"""


@pytest.fixture
async def feed_url() -> AsyncIterator[tuple[str, list[float]]]:
    """An RSS feed on 127.0.0.1 (no ETag or Last-Modified: every poll gets the same items again)."""
    hits: list[float] = []

    async def feed(request: web.Request) -> web.Response:
        hits.append(time.monotonic())
        return web.Response(body=RSS.encode(), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/feed.xml", hits
    finally:
        await runner.cleanup()


async def test_news_matching_the_keywords_is_alerted_once_to_news_subscribers(
    server, tmp_path, feed_url, relaxed_group_limit
):
    url, hits = feed_url
    overrides = {"feed_urls": [url], "feed_interval": 0.2}
    services = load_services(tmp_path, **overrides)
    zh_news, en_news, data_only = 801, 802, 803
    # Subscribed first (a news alert goes to the chats following news when it is found).
    async with running_bot(server, tmp_path, services=load_services(tmp_path), job_interval=JOB_INTERVAL):
        assert (await say(server, zh_news, "/subscribe 新闻", lang="zh-hans")).startswith("已订阅:新闻")
        assert (await say(server, en_news, "/subscribe news")).startswith("Subscribed to news")
        assert (await say(server, data_only, "/subscribe maas_tokens")).startswith("Subscribed to metric")
    assert hits == []
    async with running_bot(
        server, tmp_path, services=services, settings_overrides=overrides, job_interval=JOB_INTERVAL
    ) as (app, _):
        news = NEWS_PREFIXES
        [zh] = await wait_alerts(server, zh_news, prefixes=news)
        [en] = await wait_alerts(server, en_news, prefixes=news)
        [job] = app.job_queue.get_jobs_by_name("poll-feeds")
        polls_so_far = len(hits)
        await asyncio.sleep(0.3)  # the feed is due again (feed_interval 0.2 s)
        await job.run(app)  # a second poll: the same two items
        assert len(hits) == polls_so_far + 1
        await asyncio.sleep(SETTLE)

    assert zh == "新闻:IDC:大模型公有云调用量 2025 年达 1300 万亿\nhttps://news.example/idc-2025"
    assert en == "News: IDC:大模型公有云调用量 2025 年达 1300 万亿\nhttps://news.example/idc-2025"
    for chat in (zh_news, en_news):
        assert len(alert_calls(server, chat, news)) == 1, server.texts(chat)
        assert not any("手机" in text for text in server.texts(chat))
    assert alert_calls(server, data_only, news) == []
    async with opened(tmp_path) as storage:
        [alert] = await storage.recent_alerts()
        assert alert.kind == "news" and await storage.delivery_counts(alert.id) == {"sent": 2}
