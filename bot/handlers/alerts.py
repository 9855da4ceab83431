"""Alerts: subscriptions, uploads with caption /ingest, and the jobs that deliver alerts, watch the inbox
folder and poll news feeds. Wording lives in `bot.alerts` and `bot.feeds`; state in `bot.storage`.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import alerts, feeds
from bot.handlers.admin import admin_only
from bot.handlers.common import Context, data, is_admin, reply, services, user_lang
from bot.handlers.polls import storage
from bot.i18n import Lang, text
from bot.ingestion import DATA, ingest_files, process_inbox
from bot.render import html_chunks
from bot.storage import Delivery
from knowledge.errors import InvalidFileError, UserError
from knowledge.ingest import MAX_FILE_BYTES, TABLE_SUFFIXES, fact_from_json

logger = logging.getLogger(__name__)
RETRY_BASE_SECONDS = 2.0
CLAIM_SIZE = 10
CLAIM_LEASE = timedelta(seconds=30)
GONE = ("chat not found", "bot was blocked", "user is deactivated", "bot was kicked", "group chat was deleted")


# --- subscriptions ------------------------------------------------------------------------------------------


async def may_manage(update: Update, context: Context) -> bool:
    """In private chats anyone; in groups the chat's admins or the bot's (if the check fails: the bot's)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == "private" or is_admin(update, context):
        return True
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        logger.warning("getChatMember failed; only bot admins may change subscriptions here: %s", exc)
        return False
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


async def on_subscribe(update: Update, context: Context) -> None:
    """/subscribe [topic]: everything by default; a metric, an entity, or news."""
    await _change_subscription(update, context, subscribe=True)


async def on_unsubscribe(update: Update, context: Context) -> None:
    """/unsubscribe [topic]: one topic, or (without one) everything."""
    await _change_subscription(update, context, subscribe=False)


async def _change_subscription(update: Update, context: Context, subscribe: bool) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    lang = user_lang(update)
    if not await may_manage(update, context):
        await reply(message, text("not_chat_admin", lang))
        return
    words = " ".join(context.args or [])
    knowledge = services(context).knowledge
    try:
        topic = (
            alerts.parse_topic(words, services(context).metrics(), knowledge.corpus.entities)
            if words or subscribe
            else None
        )
    except UserError as exc:
        await reply(message, exc.message)
        return
    store = storage(context)
    await store.set_chat_lang(chat.id, lang)
    if subscribe and topic is not None:
        await store.subscribe(chat.id, topic)
        await reply(message, text("subscribed", lang, topic=_label(context, topic, lang)))
        return
    removed = await store.unsubscribe(chat.id, topic)
    key = "unsubscribed" if removed else "not_subscribed"
    await reply(
        message, text(key, lang, topic=_label(context, topic, lang) if topic else text("everything", lang))
    )


def _label(context: Context, topic: str, lang: Lang) -> str:
    return alerts.topic_label(topic, services(context).metrics(), services(context).entity_names(), lang)


async def on_alerts(update: Update, context: Context) -> None:
    """/alerts: what this chat follows."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    lang = user_lang(update)
    topics = await storage(context).subscriptions(chat.id)
    if not topics:
        await reply(message, text("no_subscriptions", lang))
        return
    lines = [text("subscriptions_header", lang), *(f"• {_label(context, t, lang)}" for t in topics)]
    await reply(message, "\n".join(lines))


# --- uploads ------------------------------------------------------------------------------------------------


@admin_only
async def on_upload(update: Update, context: Context) -> None:
    """A CSV/XLSX/Markdown file with caption /ingest: validated whole, then stored, alerted, resolved."""
    message = update.effective_message
    if message is None or message.document is None:
        return
    lang = user_lang(update)
    document = message.document
    name = Path(document.file_name or "upload.csv").name
    if Path(name).suffix.lower() not in TABLE_SUFFIXES:
        await reply(message, text("upload_type", lang, name=name))
        return
    if (document.file_size or 0) > MAX_FILE_BYTES:
        await reply(message, text("upload_size", lang, name=name, limit=MAX_FILE_BYTES // 10**6))
        return
    with tempfile.TemporaryDirectory(dir=services(context).settings.data_dir) as folder:
        path = Path(folder) / name
        telegram_file = await document.get_file()
        await telegram_file.download_to_drive(path)
        try:
            outcome = await ingest_files([path], services(context).settings.data_dir, storage(context),
                                         services(context).index)  # fmt: skip
        except InvalidFileError as exc:
            await reply(message, exc.message)
            return
    await asyncio.to_thread(services(context).reload)
    data(context).data_version = services(context).data_version()
    await reply(message, outcome.summary())


# --- jobs ---------------------------------------------------------------------------------------------------


async def deliver(context: Context) -> None:
    """Send due alerts until none is left or the run's time (the job's data, under its interval) is up.

    Never twice: each delivery is marked `sending` (committed) just before its message goes out and `sent`
    right after. After a crash, claimed-but-untried deliveries are sent once their lease expires; one cut
    off mid-send is settled as sent (unconfirmed), since Telegram may have delivered it and the Bot API
    cannot de-duplicate a resend."""
    budget = context.job.data if context.job is not None and isinstance(context.job.data, float) else 2.0
    deadline = time.monotonic() + budget
    await storage(context).settle_interrupted(datetime.now(UTC))
    while time.monotonic() < deadline:
        batch = await storage(context).claim_deliveries(datetime.now(UTC), limit=CLAIM_SIZE, lease=CLAIM_LEASE)
        if not batch:
            return
        for item in batch:
            await _deliver_one(context, item)


async def _deliver_one(context: Context, item: Delivery) -> None:
    store = storage(context)
    lang: Lang = "en" if await store.chat_lang(item.chat_id) == "en" else "zh"
    if not await store.begin_send(item.alert_id, item.chat_id):
        return  # the claim expired and another worker has it
    try:
        sent = await _send_alert(context, item.chat_id, item.kind, item.payload, item.alert_id, lang)
    except Forbidden as exc:
        await store.drop_chat(item.chat_id, str(exc))
        return
    except BadRequest as exc:
        if any(reason in str(exc).lower() for reason in GONE):
            await store.drop_chat(item.chat_id, str(exc))
        else:
            await store.retry_later(item.alert_id, item.chat_id, _backoff(item.attempts), str(exc))
        return
    except RetryAfter as exc:
        wait = exc.retry_after if isinstance(exc.retry_after, int | float) else exc.retry_after.total_seconds()
        await store.retry_later(item.alert_id, item.chat_id, datetime.now(UTC) + timedelta(seconds=wait), str(exc))
        return
    except TelegramError as exc:
        await store.retry_later(item.alert_id, item.chat_id, _backoff(item.attempts), str(exc))
        return
    await store.mark_sent(item.alert_id, item.chat_id, sent.message_id if sent else None)


def _backoff(attempts: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), 600))


async def _send_alert(
    context: Context, chat_id: int, kind: str, payload: dict, alert_id: int, lang: Lang
) -> Message | None:
    if kind == DATA:
        facts = [fact_from_json(f) for f in payload.get("facts", [])]
        before = [fact_from_json(f) if f else None for f in payload.get("revised_from", [])]
        alert = alerts.DataAlert("", (), tuple(facts), tuple(before))
        # The alert's own figures are merged in: delivery may run before the bot has reloaded its data.
        known = services(context).knowledge.corpus.facts.merged(facts)
        body = alerts.alert_text(alert, known, services(context).metrics(), services(context).entity_names(), lang)
        button = InlineKeyboardButton(text("chart_button", lang), callback_data=f"alert_chart:{alert_id}")
        keyboard: InlineKeyboardMarkup | None = InlineKeyboardMarkup([[button]])
    else:
        item = feeds.FeedItem(payload.get("key", ""), payload.get("url", ""), payload.get("title", ""),
                              payload.get("link", ""), payload.get("summary", ""), None)  # fmt: skip
        body, keyboard = feeds.news_text(item, lang), None
    chunks = html_chunks(body)
    sent = None
    for i, chunk in enumerate(chunks):
        sent = await context.bot.send_message(
            chat_id, chunk, reply_markup=keyboard if i == len(chunks) - 1 else None
        )
    return sent


async def on_alert_chart_button(update: Update, context: Context) -> None:
    """The Chart button under a data alert: the series of the metric that changed."""
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        return
    await query.answer()
    alert = await storage(context).get_alert(int((query.data or "0").removeprefix("alert_chart:") or 0))
    if alert is None or not alert.payload.get("facts"):
        await reply(query.message, text("expired", user_lang(update)))
        return
    fact = fact_from_json(alert.payload["facts"][0])
    series = services(context).knowledge.corpus.facts.series(fact.metric, fact.entity)
    png = await asyncio.to_thread(services(context).answer_chart_for, series, user_lang(update))
    if png is None:
        await reply(query.message, text("no_chart", user_lang(update)))
        return
    await query.message.reply_photo(png)


async def watch_inbox(context: Context) -> None:
    """Files dropped into MARKETBOT_DATA_DIR/inbox are ingested like uploads."""
    svc = services(context)
    done = await process_inbox(svc.settings.data_dir, storage(context), svc.index, time.time())
    for path, summary in done:
        logger.info("Inbox: %s: %s", path.name, summary.splitlines()[0])
    if done:
        await asyncio.to_thread(svc.reload)
        data(context).data_version = svc.data_version()


async def poll_feeds(context: Context) -> None:
    """Fetch due feeds; each new item matching the keywords becomes one news alert, ever."""
    settings = services(context).settings
    watcher = data(context).feeds
    if watcher is None or not settings.feed_urls:
        return
    store = storage(context)
    now = datetime.now(UTC)
    for url in settings.feed_urls:
        state = await store.feed_state(url) or feeds.FeedState(url)
        if not watcher.due(state, now):
            continue
        result = await watcher.fetch(state, now)
        await store.save_feed_state(result.state)
        if result.error:
            logger.warning("Feed %s failed (%d in a row): %s", url, result.state.failures, result.error)
        for item in feeds.matching(result.items, settings.feed_keywords):
            if await store.remember_feed_item(item.key, item.url, item.title, item.link):
                payload = {"key": item.key, "url": item.url, "title": item.title, "link": item.link,
                           "summary": item.summary}  # fmt: skip
                await store.add_alert("news", f"news:{item.key}", payload, ("all", "news"))
