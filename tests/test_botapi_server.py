"""The fake Bot API server in tests/botapi.py, driven by a real python-telegram-bot client."""

import asyncio
import datetime as dtm
import io
import struct
import time
import zlib

import aiohttp
import pytest
from aiohttp import web
from botapi import BOT_USERNAME, DEFAULT_TOKEN, BotApiServer, http_request, parse_html
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import CommandHandler, ContextTypes

CHAT = 42


def png(width=3, height=2):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )


@pytest.fixture
async def server():
    async with BotApiServer() as server:
        yield server


@pytest.fixture
async def bot(server):
    async with Bot(
        DEFAULT_TOKEN,
        base_url=server.base_url,
        base_file_url=server.file_url,
        request=http_request(),
        get_updates_request=http_request(),
    ) as bot:
        yield bot


async def test_get_me_describes_the_test_bot(bot, server):
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (123456, BOT_USERNAME, "marketbot", True)
    assert me.can_join_groups and not me.can_read_all_group_messages and not me.supports_inline_queries
    assert [c.method for c in server.calls] == ["getMe", "getMe"]  # Bot.initialize() calls getMe too


async def test_send_message_returns_a_full_message_and_echoes_the_inline_keyboard(bot, server):
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:1")]])
    first = await bot.send_message(CHAT, "hello", reply_markup=markup)
    second = await bot.send_message(CHAT, "again")
    assert (first.message_id, second.message_id) == (1, 2)
    assert first.chat.id == CHAT and first.from_user.id == 123456 and first.text == "hello"
    assert first.reply_markup == markup
    [call] = server.sent("sendMessage", chat_id=CHAT)[:1]
    assert call.params["reply_markup"] == {"inline_keyboard": [[{"text": "More", "callback_data": "more:1"}]]}
    assert [m["text"] for m in server.messages(CHAT)] == ["hello", "again"]


async def test_text_that_looks_like_json_stays_a_string(bot, server):
    message = await bot.send_message(CHAT, "123")
    assert message.text == "123" and server.sent("sendMessage")[0].params["text"] == "123"


async def test_html_parse_mode_becomes_plain_text_with_entities(bot, server):
    message = await bot.send_message(
        CHAT, "<b>GMV</b> &amp; <a href='https://x.org'>源</a> 😀<i>ok</i>", parse_mode=ParseMode.HTML
    )
    assert message.text == "GMV & 源 😀ok"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 3),
        ("text_link", 6, 1),
        ("italic", 10, 2),  # the emoji counts as two UTF-16 units
    ]
    assert server.sent("sendMessage")[0].params["text"].startswith("<b>GMV</b>")


@pytest.mark.parametrize("html", ["a <div>b</div>", "<b>open", "<b>x</i>"])
async def test_invalid_html_is_refused_like_telegram(bot, html):
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(CHAT, html, parse_mode=ParseMode.HTML)


def test_parse_html_supports_pre_with_language():
    text, entities = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert text == "x = 1" and entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]


async def test_too_long_message_is_refused(bot):
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "x" * 4097)


async def test_reply_parameters_attach_the_replied_message(bot, server):
    question = server.push_message(CHAT, "what is the market size?")
    answer = await bot.send_message(CHAT, "big", reply_parameters=ReplyParameters(question["message_id"]))
    assert answer.reply_to_message.text == "what is the market size?"
    assert answer.message_id == question["message_id"] + 1
    with pytest.raises(BadRequest, match=r"(?i)replied not found"):
        await bot.send_message(CHAT, "x", reply_parameters=ReplyParameters(999))


async def test_edit_and_delete_change_what_the_chat_shows(bot, server):
    sent = await bot.send_message(CHAT, "draft")
    edited = await bot.edit_message_text("final", chat_id=CHAT, message_id=sent.message_id)
    assert edited.text == "final" and edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("final", chat_id=CHAT, message_id=sent.message_id)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x")]])
    await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=markup)
    assert server.messages(CHAT)[0]["reply_markup"] == markup.to_dict()
    assert await bot.delete_message(CHAT, sent.message_id)
    assert server.messages(CHAT) == []
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)


async def test_send_photo_keeps_the_uploaded_bytes(bot, server):
    image = png(3, 2)
    message = await bot.send_photo(CHAT, image, caption="<b>chart</b>", parse_mode=ParseMode.HTML)
    [call] = server.sent("sendPhoto")
    assert call.files["photo"] == image
    assert message.caption == "chart" and message.caption_entities[0].type == "bold"
    largest = message.photo[-1]
    assert (largest.width, largest.height) == (3, 2)
    assert server.file(largest.file_id).data == image
    again = await bot.send_photo(CHAT, largest.file_id)
    assert again.photo[-1].file_id == largest.file_id


async def test_send_document_records_name_and_bytes(bot, server):
    message = await bot.send_document(CHAT, b"a,b\n1,2\n", filename="table.csv")
    assert message.document.file_name == "table.csv" and message.document.mime_type == "text/csv"
    assert server.file(message.document.file_id).data == b"a,b\n1,2\n"
    assert server.sent("sendDocument")[0].file_names["document"] == "table.csv"


async def test_added_files_can_be_fetched_and_downloaded(bot, server):
    file_id = server.add_file("季度,份额\nQ1,30%\n".encode(), "share.csv")
    file = await bot.get_file(file_id)
    assert file.file_path.startswith(server.file_url) and file.file_size == len("季度,份额\nQ1,30%\n".encode())
    buffer = io.BytesIO()
    await file.download_to_memory(buffer)
    assert buffer.getvalue() == "季度,份额\nQ1,30%\n".encode()
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("nope")


async def test_get_updates_long_polls_until_a_message_is_pushed(bot, server):
    async def push_later():
        await asyncio.sleep(0.2)
        server.push_message(CHAT, "hi")

    pusher = asyncio.create_task(push_later())
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    await pusher
    assert 0.15 < time.monotonic() - started < 2
    assert [u.message.text for u in updates] == ["hi"]
    assert updates[0].message.from_user.id == CHAT and updates[0].message.chat.type == "private"


async def test_get_updates_returns_empty_after_the_timeout(bot):
    started = time.monotonic()
    assert await bot.get_updates(timeout=0.3) == ()
    assert time.monotonic() - started >= 0.3


async def test_offset_confirms_earlier_updates_and_limit_caps_the_batch(bot, server):
    for text in ("one", "two", "three"):
        server.push_message(CHAT, text)
    assert [u.message.text for u in await bot.get_updates(limit=2)] == ["one", "two"]
    assert [u.update_id for u in await bot.get_updates()] == [1, 2, 3]  # nothing confirmed yet
    assert [u.message.text for u in await bot.get_updates(offset=3)] == ["three"]
    assert await bot.get_updates(offset=4, timeout=0) == ()
    assert server.updates == []


async def test_pushed_commands_and_mentions_get_entities(bot, server):
    server.push_message(-1001, "/ask@marketbot_test_bot 份额?", chat_type="supergroup", user_id=7)
    server.push_message(-1001, "hey @marketbot_test_bot 😀", chat_type="supergroup", user_id=7)
    command, mention = (u.message for u in await bot.get_updates())
    assert [(e.type, e.offset, e.length) for e in command.entities] == [("bot_command", 0, 23)]
    assert command.text.startswith("/ask") and command.chat.type == "supergroup"
    assert [(e.type, e.offset, e.length) for e in mention.entities] == [("mention", 4, 19)]


async def test_push_document_and_callback_round_trip(bot, server):
    server.push_document(CHAT, b"x,y\n", "data.csv", caption="upload")
    sent = await bot.send_message(
        CHAT, "pick", reply_markup=InlineKeyboardMarkup.from_button(InlineKeyboardButton("A", callback_data="a"))
    )
    server.push_callback(CHAT, server.messages(CHAT)[-1], "a")
    document_update, callback_update = await bot.get_updates()
    file = await document_update.message.document.get_file()
    assert bytes(await file.download_as_bytearray()) == b"x,y\n"
    query = callback_update.callback_query
    assert query.data == "a" and query.message.message_id == sent.message_id and query.from_user.id == CHAT
    assert await query.answer("ok")
    assert server.sent("answerCallbackQuery")[0].params["callback_query_id"] == query.id


async def test_set_my_commands_records_scope_and_language(bot, server):
    await bot.set_my_commands([BotCommand("start", "开始")], scope=BotCommandScopeChat(CHAT), language_code="zh")
    await bot.set_my_commands([BotCommand("start", "Start")])
    assert server.commands_for({"type": "chat", "chat_id": CHAT}, "zh") == [
        {"command": "start", "description": "开始"}
    ]
    assert server.commands_for() == [{"command": "start", "description": "Start"}]
    zh = await bot.get_my_commands(scope=BotCommandScopeChat(CHAT), language_code="zh")
    assert [c.description for c in zh] == ["开始"]
    await bot.delete_my_commands(scope=BotCommandScopeDefault())
    assert server.commands_for() is None


@pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
async def test_429_surfaces_as_retry_after_once(bot, server):
    server.fail_next("sendMessage", 429, retry_after=1)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(CHAT, "x")
    assert raised.value.retry_after in (1, dtm.timedelta(seconds=1))  # int until PTB_TIMEDELTA is the default
    assert (await bot.send_message(CHAT, "x")).text == "x"
    assert [c.status for c in server.sent("sendMessage")] == [429, 200]


async def test_500_surfaces_as_network_error(bot, server):
    server.fail_next("getMe", 500)
    with pytest.raises(NetworkError) as raised:
        await bot.get_me()
    assert type(raised.value) is NetworkError


async def test_403_is_scoped_to_one_chat_and_can_last(bot, server):
    server.fail_next("sendMessage", 403, chat_id=CHAT, times=None)
    for _ in range(2):
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(CHAT, "x")
    assert (await bot.send_message(CHAT + 1, "x")).chat.id == CHAT + 1


async def test_400_chat_not_found(bot, server):
    server.fail_next("getChat", 400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(-5)
    chat = await bot.get_chat(-5)
    assert chat.type == "group"


async def test_wrong_token_is_unauthorized(server):
    async with aiohttp.ClientSession() as session, session.post(f"{server.base_url}123:wrong/getMe") as response:
        assert response.status == 401
        assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    with pytest.raises(InvalidToken):
        async with Bot("123:wrong", base_url=server.base_url, request=http_request()):
            pass


async def test_server_bot_is_a_configured_client(server):
    async with server.bot() as bot:
        assert bot.base_url == f"{server.base_url}{server.token}"
        assert (await bot.send_message(CHAT, "hi")).text == "hi"


async def test_unknown_method_is_404_and_json_bodies_work(server):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.base_url}{DEFAULT_TOKEN}/frobnicate", json={}) as response:
            assert response.status == 404
            assert (await response.json())["description"] == "Not Found: method not found"
        body = {"chat_id": CHAT, "text": "json", "reply_markup": {"inline_keyboard": []}}
        async with session.post(f"{server.base_url}{DEFAULT_TOKEN}/sendmessage", json=body) as response:
            result = (await response.json())["result"]
    assert result["text"] == "json" and server.calls[-1].method == "sendMessage"


async def test_send_poll_stop_poll_and_answers(bot, server):
    message = await bot.send_poll(CHAT, "Who leads?", ["Volcano", "Ali", "Baidu"], is_anonymous=False)
    poll = message.poll
    assert (poll.question, [o.text for o in poll.options], poll.is_anonymous, poll.type) == (
        "Who leads?",
        ["Volcano", "Ali", "Baidu"],
        False,
        "regular",
    )
    server.push_poll_answer(poll.id, user_id=7, option_ids=[1])
    [update] = await bot.get_updates()
    assert (update.poll_answer.poll_id, update.poll_answer.option_ids, update.poll_answer.user.id) == (
        poll.id,
        (1,),
        7,
    )
    stopped = await bot.stop_poll(CHAT, message.message_id)
    assert stopped.is_closed and stopped.options[1].voter_count == 1


@pytest.mark.parametrize("status", ["member", "administrator", "creator", "restricted", "left", "kicked"])
async def test_get_chat_member_reports_the_configured_status(bot, server, status):
    if status != "member":
        server.set_member_status(-100, 7, status)
    member = await bot.get_chat_member(-100, 7)
    assert member.status == status and member.user.id == 7


async def test_get_chat_member_can_fail(bot, server):
    server.set_member_error(-100, 7)
    with pytest.raises(BadRequest, match=r"(?i)user not found"):
        await bot.get_chat_member(-100, 7)


async def test_wait_for_reports_what_was_received(bot, server):
    await bot.send_message(CHAT, "something else")
    with pytest.raises(AssertionError, match=r"waiting for 1 sendPhoto[\s\S]*sendMessage\(chat_id=42"):
        await server.wait_for("sendPhoto", timeout=0.1)


async def test_wait_for_returns_once_enough_calls_were_answered(bot, server):
    server.delay("sendMessage", 0.2)
    sending = asyncio.gather(*(bot.send_message(CHAT, str(i)) for i in range(2)))
    calls = await server.wait_for("sendMessage", chat_id=CHAT, count=2, timeout=2)
    await sending
    assert len(calls) == 2 and all(c.ok for c in calls)
    assert calls[0].result["chat"]["id"] == CHAT


async def test_webhook_blocks_get_updates_until_deleted(bot, server):
    await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    server.push_message(CHAT, "old")
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_an_application_polls_and_replies_end_to_end(server):
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"hello {update.effective_user.first_name}")

    app = server.application_builder().build()
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=0.2, poll_interval=0)
        server.push_message(CHAT, "/start", first_name="Ada")
        [reply] = await server.wait_for("sendMessage", chat_id=CHAT, timeout=5)
        await server.wait_delivered()
        await app.updater.stop()
        await app.stop()
    assert reply.result["text"] == "hello Ada"
    assert "reply_to_message" not in reply.result  # reply_text quotes only in groups by default


async def test_webhook_receives_updates_with_the_secret_and_failed_posts_are_retried(bot, server):
    received: list[tuple[int, str | None]] = []
    refuse = {"times": 1}

    async def endpoint(request: web.Request) -> web.Response:
        update = await request.json()
        received.append((update["update_id"], request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        if refuse["times"]:
            refuse["times"] -= 1
            return web.Response(status=500)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        await bot.set_webhook(url, secret_token="s3cret", max_connections=1)
        first = server.push_message(CHAT, "one")
        server.push_message(CHAT, "two")
        await server.wait_webhook_delivered(timeout=10)
        ids = [update_id for update_id, _ in received]
        assert ids[0] == ids[1] == server.last_update_id - 1, "the refused update is posted again"
        assert ids[-1] == server.last_update_id
        assert {secret for _, secret in received} == {"s3cret"}
        assert [p.status for p in server.webhook_posts] == [500, 200, 200]
        assert first["text"] == "one" and server.updates == []
        with pytest.raises(BadRequest, match="unallowed characters"):
            await bot.set_webhook(url, secret_token="no spaces allowed")
    finally:
        await bot.delete_webhook()
        await runner.cleanup()
