"""The Telegram bot end to end: the real application (`bot.app.build_application`) and real answer services,
polling the fake Bot API server in tests/botapi.py. Assertions are on what a user would see."""

import asyncio
import csv
import io
import logging
import re

import matplotlib.image
import pytest
from botapi import BOT_USERNAME
from conftest import ADMIN_ID, make_settings, running_bot

from bot.handlers import ask
from knowledge.ingest import FactStore, ingest
from knowledge.loaders import default_corpus_dir
from retrieval.charts import TOPICS

CHAT = 500  # a private chat with user 500
OTHER = 501
GROUP = -1001234567890
RATIO_ZH = "2025 上半年的调用量是 2024 全年的多少倍?"
GOOGLE_EN = "Google's monthly tokens in May 2025?"
SERIES_ZH = "豆包日均调用量的变化"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TABLES = (
    "idc_maas_tokens",
    "idc_maas_share",
    "google_monthly_tokens",
    "doubao_daily_tokens",
    "china_daily_tokens",
)


# --- helpers ----------------------------------------------------------------------------------------------


def ok(call):
    return call.ok


def buttons(call):
    """The inline buttons of a sent message, flattened."""
    markup = (call.result or {}).get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def button(call, prefix):
    found = [b for b in buttons(call) if b.get("callback_data", "").startswith(prefix)]
    assert found, f"no button with callback_data {prefix!r}*: {buttons(call)}"
    return found[0]


def sent_ok(server, method, chat_id):
    return [c for c in server.sent(method, chat_id) if c.ok]


async def send(server, chat_id, text, *, method="sendMessage", count=1, timeout=15.0, **push):
    """Push a user's message and wait for the next `count` successful `method` calls to that chat."""
    before = len(sent_ok(server, method, chat_id))
    message = server.push_message(chat_id, text, **push)
    calls = await server.wait_for(method, chat_id=chat_id, predicate=ok, count=before + count, timeout=timeout)
    return message, calls[before:]


async def reply(server, chat_id, text, **push):
    _, [call] = await send(server, chat_id, text, **push)
    return call


async def press(server, chat_id, call, data, *, method, user_id=None, timeout=15.0):
    """Press an inline button on a message the bot sent; wait for the answered query and `method`."""
    before = len(sent_ok(server, method, chat_id))
    query = server.push_callback(chat_id, call.result, data, user_id=user_id)
    await server.wait_for(
        "answerCallbackQuery",
        predicate=lambda c: c.params.get("callback_query_id") == query["id"],
        timeout=timeout,
    )
    calls = await server.wait_for(method, chat_id=chat_id, predicate=ok, count=before + 1, timeout=timeout)
    return calls[before]


async def assert_silent(server, chat_id, seconds=1.0):
    """Every pushed update was fetched, and within `seconds` the bot said nothing to `chat_id`."""
    await server.wait_delivered()
    await asyncio.sleep(seconds)
    said = [c.summary() for c in server.calls if str(c.chat_id) == str(chat_id) and c.method != "getUpdates"]
    assert said == []


def png_of(server, call):
    """The uploaded PNG of a sendPhoto call, decoded."""
    data = server.file(call.result["photo"][-1]["file_id"]).data
    assert data[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(io.BytesIO(data))
    assert image.shape[0] >= 200 and image.shape[1] >= 200
    return image


def squeeze(text):
    return re.sub(r"\s+", "", text)


# --- private chats: questions and answers ---------------------------------------------------------------


async def test_private_question_gets_an_html_answer_with_buttons_and_no_typing_when_fast(bot, monkeypatch):
    monkeypatch.setattr(ask, "TYPING_AFTER", 5.0)  # a figure answer takes milliseconds
    message, [answer] = await send(bot, CHAT, RATIO_ZH, language_code="zh-hans")
    assert answer.params["parse_mode"] == "HTML"
    assert "4.70" in answer.result["text"] and "536.7" in answer.result["text"]
    assert answer.result["reply_to_message"]["message_id"] == message["message_id"]
    assert not bot.sent("sendChatAction", CHAT), "no typing action for an answer that is already there"
    assert button(answer, "src:")["text"] == "来源"
    assert button(answer, "chart:")["text"] == "图表"  # two facts cited


async def test_a_slow_answer_shows_typing_first(bot, monkeypatch):
    monkeypatch.setattr(ask, "TYPING_AFTER", 0.0)  # every answer counts as slow
    _, [answer] = await send(bot, CHAT, RATIO_ZH, language_code="zh-hans")
    [typing] = bot.sent("sendChatAction", CHAT)
    assert typing.params["action"] == "typing" and typing.at < answer.at


async def test_english_question_gets_an_english_answer_and_no_chart_for_one_figure(bot):
    answer = await reply(bot, CHAT, GOOGLE_EN)
    assert "480 trillion" in answer.result["text"]
    assert button(answer, "src:")["text"] == "Sources"
    assert not [b for b in buttons(answer) if b["callback_data"].startswith("chart:")]


async def test_answer_language_follows_the_question_not_the_user_interface(bot):
    answer = await reply(bot, CHAT, RATIO_ZH, language_code="en")
    assert re.search(r"[\u4e00-\u9fff]", answer.result["text"].split("\n")[0])
    assert "倍" in answer.result["text"]


async def test_a_question_that_is_not_covered_still_gets_a_polite_answer(bot):
    answer = await reply(bot, CHAT, "讲个笑话吧", language_code="zh-hans")
    assert "没有" in answer.result["text"]


async def test_sources_button_lists_the_cited_quotes_and_reports(bot):
    answer = await reply(bot, CHAT, RATIO_ZH, language_code="zh-hans")
    sources = await press(bot, CHAT, answer, button(answer, "src:")["callback_data"], method="sendMessage")
    assert "IDC" in sources.result["text"] and "536.7" in sources.result["text"]
    assert "114.2" in sources.result["text"]


async def test_chart_button_sends_a_png(bot):
    answer = await reply(bot, CHAT, RATIO_ZH, language_code="zh-hans")
    photo = await press(bot, CHAT, answer, button(answer, "chart:")["callback_data"], method="sendPhoto")
    png_of(bot, photo)


async def test_a_message_over_2000_characters_gets_a_short_too_long_reply(bot):
    answer = await reply(bot, CHAT, "豆包" * 1100)
    text = answer.result["text"]
    assert "2000" in text or "2,000" in text
    assert len(text) < 400


# --- groups ---------------------------------------------------------------------------------------------


async def test_in_groups_plain_text_and_other_bots_commands_get_no_reply(bot):
    group = {"chat_type": "supergroup", "user_id": 77}
    bot.push_message(GROUP, RATIO_ZH, **group)
    bot.push_message(GROUP, "hello everyone, 火山引擎的份额是多少?", **group)
    bot.push_message(GROUP, "/ask@other_bot 火山引擎的份额是多少?", **group)
    someone = bot.push_message(GROUP, "I think Volcano leads", **group)
    bot.push_message(GROUP, "谷歌 2025 年 5 月的 tokens?", reply_to=someone, user_id=78, chat_type="supergroup")
    await assert_silent(bot, GROUP)


@pytest.mark.parametrize(
    "text",
    [
        "/ask 火山引擎 2025 年上半年的市场份额是多少?",
        f"/ask@{BOT_USERNAME} 火山引擎 2025 年上半年的市场份额是多少?",
        f"@{BOT_USERNAME} 火山引擎 2025 年上半年的市场份额是多少?",
        f"火山引擎 2025 年上半年的市场份额是多少? @{BOT_USERNAME}",
    ],
    ids=["ask", "ask@bot", "mention-first", "mention-last"],
)
@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
async def test_in_groups_ask_and_mentions_are_answered(bot, text, chat_type):
    chat = GROUP if chat_type == "supergroup" else -4242
    answer = await reply(bot, chat, text, chat_type=chat_type, user_id=77)
    assert "49.2%" in answer.result["text"]


async def test_in_groups_a_reply_to_the_bot_is_answered(bot):
    first = await reply(bot, GROUP, f"/ask {RATIO_ZH}", chat_type="supergroup", user_id=77)
    followup = await reply(
        bot,
        GROUP,
        "谷歌 2025 年 5 月每月 Tokens 处理量是多少?",
        chat_type="supergroup",
        user_id=78,
        reply_to=first.result,
    )
    assert "480" in followup.result["text"]


# --- commands -------------------------------------------------------------------------------------------


async def test_start_offers_three_example_questions_that_answer_when_pressed(bot):
    greeting = await reply(bot, CHAT, "/start")
    examples = [b for b in buttons(greeting) if b.get("callback_data", "").startswith("ask:")]
    assert len(examples) == 3
    answer = await press(bot, CHAT, greeting, examples[0]["callback_data"], method="sendMessage")
    assert answer.result["text"] != greeting.result["text"]
    assert re.search(r"\d", answer.result["text"])
    assert button(answer, "src:")


async def test_help_lists_the_commands(bot):
    text = (await reply(bot, CHAT, "/help")).result["text"]
    for command in ("/ask", "/chart", "/sources", "/help"):
        assert command in text


async def test_sources_lists_each_table_with_report_date_and_rows(bot):
    text = (await reply(bot, CHAT, "/sources")).result["text"]
    positions = sorted((text.index(name), name) for name in TABLES)  # every table is named
    for (start, name), (end, _) in zip(positions, [*positions[1:], (len(text), "")], strict=True):
        segment = text[start:end]
        with (default_corpus_dir() / "tables" / f"{name}.csv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert re.search(rf"(?<![\d.]){len(rows)}(?![\d.])", segment), f"{name}: no row count {len(rows)}"
        assert any(row["report"] in segment for row in rows), f"{name}: no report named"
        assert max(row["published"] for row in rows) in segment, f"{name}: no latest published date"


async def test_unknown_command_points_to_help(bot):
    text = (await reply(bot, CHAT, "/foo")).result["text"]
    assert "/help" in text and len(text) < 200


@pytest.mark.parametrize(
    ("words", "topic"),
    [
        ("google", "google"),
        ("谷歌", "google"),
        ("豆包", "doubao"),
        ("份额", "shares"),
        ("idc_totals", "idc_totals"),
    ],
)
async def test_chart_with_a_topic_sends_a_png(bot, words, topic):
    _, [photo] = await send(bot, CHAT, f"/chart {words}", method="sendPhoto")
    png_of(bot, photo)


async def test_chart_without_a_topic_offers_every_topic_and_a_press_sends_the_chart(bot):
    menu = await reply(bot, CHAT, "/chart")
    offered = [b["callback_data"] for b in buttons(menu) if b.get("callback_data", "").startswith("chart_topic:")]
    assert len(offered) == len(TOPICS) == 5
    assert len(set(offered)) == len(offered)
    photo = await press(bot, CHAT, menu, offered[-1], method="sendPhoto")
    png_of(bot, photo)


async def test_chart_with_an_unknown_topic_lists_the_topics(bot):
    text = (await reply(bot, CHAT, "/chart weather")).result["text"]
    for topic, titles in TOPICS.items():
        assert topic in text or any(title in text for title in titles), topic
    assert not bot.sent("sendPhoto", CHAT)


# --- rate limits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("language_code", "phrase"), [("en", "slow down"), ("zh-hans", "太快")])
async def test_rate_limit_answers_a_friendly_message_and_spares_other_users(
    server, services, tmp_path, language_code, phrase
):
    async with running_bot(server, tmp_path, services=services, rate_limit=3):
        for _ in range(4):
            server.push_message(CHAT, GOOGLE_EN, language_code=language_code)
        replies = await server.wait_for("sendMessage", chat_id=CHAT, predicate=ok, count=4, timeout=15)
        texts = [c.result["text"] for c in replies]
        assert sum(phrase in t.lower() for t in texts) == 1, texts
        assert sum("480 trillion" in t for t in texts) == 3, texts
        other = await reply(server, OTHER, GOOGLE_EN, language_code=language_code)
        assert "480 trillion" in other.result["text"]


# --- Telegram failures ----------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_a_429_on_send_is_waited_out_and_the_answer_arrives(bot):
    bot.fail_next("sendMessage", 429, retry_after=1)
    answer = await reply(bot, CHAT, GOOGLE_EN)
    assert "480 trillion" in answer.result["text"]
    [refused] = [c for c in bot.sent("sendMessage", CHAT) if c.status == 429]
    assert answer.at - refused.at >= 0.9


async def test_a_500_on_send_is_retried_and_the_answer_arrives(bot):
    bot.fail_next("sendMessage", 500)
    answer = await reply(bot, CHAT, GOOGLE_EN)
    assert "480 trillion" in answer.result["text"]
    assert [c.status for c in bot.sent("sendMessage", CHAT)] == [500, 200]


async def test_a_rejected_typing_action_does_not_stop_the_answer(bot, monkeypatch):
    monkeypatch.setattr(ask, "TYPING_AFTER", 0.0)
    bot.fail_next("sendChatAction", 400, times=None)
    answer = await reply(bot, CHAT, GOOGLE_EN)
    assert "480 trillion" in answer.result["text"]


async def test_the_bot_starts_and_answers_when_set_my_commands_is_rejected(server, services, tmp_path):
    server.fail_next("setMyCommands", 400, times=None)
    async with running_bot(server, tmp_path, services=services):
        answer = await reply(server, CHAT, GOOGLE_EN)
        assert "480 trillion" in answer.result["text"]
    assert server.sent("setMyCommands") and not any(c.ok for c in server.sent("setMyCommands"))


async def test_commands_are_registered_in_english_and_chinese(bot):
    english, chinese = bot.commands_for(), bot.commands_for(language_code="zh")
    assert english and chinese
    names = {c["command"] for c in english}
    assert {"start", "help", "ask", "chart", "sources"} <= names
    assert names == {c["command"] for c in chinese}
    assert all(c["description"].isascii() for c in english)
    assert all(re.search(r"[\u4e00-\u9fff]", c["description"]) for c in chinese)


async def test_the_token_never_reaches_the_logs(server, services, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with running_bot(server, tmp_path, services=services):
        answer = await reply(server, CHAT, RATIO_ZH)
        await press(server, CHAT, answer, button(answer, "src:")["callback_data"], method="sendMessage")
    assert caplog.records, "nothing was logged at DEBUG: the check would prove nothing"
    secret = server.token.split(":", 1)[1]
    leaks = [
        r.getMessage()[:200] for r in caplog.records if server.token in r.getMessage() or secret in r.getMessage()
    ]
    assert leaks == []
    assert server.token not in caplog.text and secret not in caplog.text


# --- data: long answers and /reload (their own data dir) -------------------------------------------------


def write_table(path, rows):
    header = "metric,entity,period,value,qualifier,unit,report,published,source,quote"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """Services over a data dir holding 72 more monthly Doubao figures (with <, > and & in their reports
    and quotes): the series answer is over 12,000 characters, so it must be split and escaped."""
    from bot.services import Services

    data_dir = tmp_path_factory.mktemp("ingested")
    rows = [
        f"daily_tokens,doubao,{y}-{m:02d},{(y - 2017) * 12 + m}亿,exact,tokens,"
        f"Volcano Engine monthly bulletin <{y}> & notes,{y}-{m:02d},example.org/doubao/{y}/{m},"
        f"豆包 {y} 年 {m} 月日均 {(y - 2017) * 12 + m} 亿 <tokens> & more"
        for y in range(2018, 2024)
        for m in range(1, 13)
    ]
    table = write_table(tmp_path_factory.mktemp("incoming") / "doubao_history.csv", rows)
    assert len(ingest([table], FactStore(data_dir)).new) == 72
    settings = make_settings(None, data_dir)
    return Services.load(settings), data_dir


async def test_a_long_answer_is_split_into_valid_html_messages_in_order(server, ingested, tmp_path):
    services, _ = ingested
    expected = services.answer(SERIES_ZH).answer
    assert len(expected) > 2 * 4096 and "<" in expected and "&" in expected
    async with running_bot(server, tmp_path, services=services):
        server.push_message(CHAT, SERIES_ZH, language_code="zh-hans")
        # At least ceil(len / 4096) messages; escaping only adds characters.
        await server.wait_for(
            "sendMessage", chat_id=CHAT, predicate=ok, count=-(-len(expected) // 4096), timeout=15
        )
        await asyncio.sleep(0.5)  # any further chunk
        chunks = sent_ok(server, "sendMessage", CHAT)
    assert all(c.ok for c in server.sent("sendMessage", CHAT)), "a chunk was rejected"
    assert all(len(c.params["text"]) <= 4096 and c.params["parse_mode"] == "HTML" for c in chunks)
    assert squeeze("".join(c.result["text"] for c in chunks)) == squeeze(expected)
    assert any(b["callback_data"].startswith("src:") for c in chunks for b in buttons(c))


async def test_reload_is_for_admins_only_and_makes_new_data_answerable(server, ingested, tmp_path):
    services, data_dir = ingested
    question = "2025 年全年公有云 Tokens 调用量是多少?"
    table = write_table(
        tmp_path / "idc_2025.csv",
        [
            "maas_tokens,china_public_cloud,2025,1234万亿,exact,tokens,IDC 2025 全年,2026-03,idc.example,"
            "全年 1234 万亿"
        ],
    )
    ingest([table], FactStore(data_dir))
    async with running_bot(server, tmp_path, services=services):
        refusal = await reply(server, 7, "/reload", user_id=7)
        assert "admin" in refusal.result["text"].lower()
        before = await reply(server, 7, question, user_id=7)
        assert "1,234" not in before.result["text"]

        confirmation = await reply(server, ADMIN_ID, "/reload")
        assert "admin" not in confirmation.result["text"].lower()
        after = await reply(server, 7, question, user_id=7)
        assert "1,234 万亿" in after.result["text"]


async def test_reload_refusal_is_in_chinese_for_chinese_users(bot):
    refusal = await reply(bot, 8, "/reload", language_code="zh-hans")
    assert "管理员" in refusal.result["text"]


async def test_passage_search_is_built_at_start_not_on_the_first_question(server, tmp_path):
    from bot.services import Services

    fresh = Services.load(make_settings(None, tmp_path / "fresh-data"))
    assert "finder" not in vars(fresh.knowledge.pipeline), "built lazily by the pipeline itself"
    async with running_bot(server, tmp_path, services=fresh) as (app, _):
        assert app.bot_data.warming is not None
        await asyncio.wait_for(app.bot_data.warming, 60)
        assert vars(fresh.knowledge.pipeline)["finder"] is not None
