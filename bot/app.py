"""The Telegram application: the one routing table. Reading `build_application` top to bottom gives
every handler, hook and error path the bot has.
"""

from __future__ import annotations

import asyncio
import html
import logging

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from bot.config import Settings
from bot.feeds import FeedWatcher
from bot.handlers import admin, alerts, ask, charts, info, polls
from bot.handlers.common import BotData, Context, user_lang
from bot.i18n import COMMANDS, text
from bot.limits import RateLimiter
from bot.logs import protect_logs
from bot.services import Services
from bot.storage import Storage
from bot.telegram_io import PerChatUpdateProcessor, RetryingRequest, optional

logger = logging.getLogger(__name__)


def build_application(
    settings: Settings,
    services: Services,
    *,
    storage: Storage | None = None,
    rate_limit: int = 20,
    rate_window: float = 60.0,
    job_interval: float = 3.0,
) -> Application:
    """The bot, wired to `services`, pointed at `TELEGRAM_API_BASE_URL` when one is set."""
    protect_logs()
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .context_types(ContextTypes(bot_data=BotData))
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(PerChatUpdateProcessor())
        # Eight connections carry far more than Telegram's 30 messages/s, and httpcore checks every idle
        # connection on each request: 64 cost a third of the throughput (benchmarks/bench_throughput.py).
        # A burst waits for a free connection rather than failing after the default 1 s.
        .request(RetryingRequest(connection_pool_size=8, pool_timeout=30.0))
        .get_updates_request(RetryingRequest(read_timeout=30.0))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url)
    if settings.telegram_file_base_url:
        builder = builder.base_file_url(settings.telegram_file_base_url)
    app = builder.build()
    app.bot_data.services = services
    app.bot_data.storage = storage or Storage(settings.database)
    app.bot_data.admins = frozenset(settings.admin_user_ids)
    app.bot_data.limiter = RateLimiter(rate_limit, rate_window)
    app.bot_data.reminder_hours = settings.poll_reminder_hours

    app.add_handler(CommandHandler("start", info.on_start))
    app.add_handler(CommandHandler("help", info.on_help))
    app.add_handler(CommandHandler("sources", info.on_sources))
    app.add_handler(CommandHandler("ask", ask.on_ask))
    app.add_handler(CommandHandler("chart", charts.on_chart))
    app.add_handler(CommandHandler("reload", admin.on_reload))
    app.add_handler(CommandHandler("newpoll", polls.on_newpoll))
    app.add_handler(CommandHandler("predict", polls.on_predict))
    app.add_handler(CommandHandler("polls", polls.on_polls))
    app.add_handler(CommandHandler("poll", polls.on_poll))
    app.add_handler(CommandHandler("closepoll", polls.on_closepoll))
    app.add_handler(CommandHandler("resolve", polls.on_resolve))
    app.add_handler(CommandHandler("leaderboard", polls.on_leaderboard))
    app.add_handler(PollAnswerHandler(polls.on_poll_answer))
    app.add_handler(CommandHandler("subscribe", alerts.on_subscribe))
    app.add_handler(CommandHandler("unsubscribe", alerts.on_unsubscribe))
    app.add_handler(CommandHandler("alerts", alerts.on_alerts))
    app.add_handler(
        MessageHandler(filters.Document.ALL & filters.CaptionRegex(r"^/ingest(@\w+)?\b"), alerts.on_upload)
    )
    app.add_handler(MessageHandler(filters.COMMAND, info.on_unknown_command))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT, ask.on_private_text))
    app.add_handler(MessageHandler(filters.ChatType.GROUPS & filters.TEXT, ask.on_group_text))
    app.add_handler(CallbackQueryHandler(ask.on_sources_button, pattern=r"^src:"))
    app.add_handler(CallbackQueryHandler(ask.on_example_button, pattern=r"^ask:"))
    app.add_handler(CallbackQueryHandler(charts.on_topic_button, pattern=r"^chart_topic:"))
    app.add_handler(CallbackQueryHandler(charts.on_answer_chart_button, pattern=r"^chart:"))
    app.add_handler(CallbackQueryHandler(alerts.on_alert_chart_button, pattern=r"^alert_chart:"))
    app.add_error_handler(on_error)

    jobs = app.job_queue
    assert jobs is not None, "python-telegram-bot[job-queue] is a dependency"
    jobs.run_repeating(polls.announce, interval=job_interval, first=1.0, name="announce-results")
    jobs.run_repeating(
        polls.remind_and_close, interval=max(job_interval, 60.0), first=job_interval, name="poll-reminders"
    )
    jobs.run_repeating(admin.follow_data, interval=job_interval, first=job_interval, name="follow-data")
    budget = job_interval * 0.8  # a delivery run ends before the next is due, so runs never overlap
    jobs.run_repeating(
        alerts.deliver, interval=job_interval, first=job_interval, name="deliver-alerts", data=budget
    )
    jobs.run_repeating(alerts.watch_inbox, interval=job_interval, first=job_interval, name="watch-inbox")
    jobs.run_repeating(alerts.poll_feeds, interval=max(job_interval, 30.0), first=job_interval, name="poll-feeds")
    if settings.feed_urls:
        app.bot_data.feeds = FeedWatcher(interval=settings.feed_interval)
    return app


async def post_init(app: Application) -> None:
    """Open the database, then register the command menu in English (default) and Chinese; a rejected
    menu is not fatal."""
    await app.bot_data.storage.open()
    app.bot_data.data_version = app.bot_data.services.data_version()
    # Built in a thread while the bot starts answering (figure questions never need it).
    app.bot_data.warming = asyncio.ensure_future(asyncio.to_thread(app.bot_data.services.warm_up))
    for lang, index in (("", 1), ("zh", 0)):
        commands = [BotCommand(name, words[index]) for name, words in COMMANDS.items()]
        call = app.bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=lang or None)
        await optional(call, f"setMyCommands({lang or 'default'})")


async def post_shutdown(app: Application) -> None:
    if app.bot_data.feeds is not None:
        await app.bot_data.feeds.aclose()
    await app.bot_data.storage.close()


async def on_error(update: object, context: Context) -> None:
    """Log with the traceback; tell the user something short."""
    logger.error("Error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        call = update.effective_message.reply_text(html.escape(text("error", user_lang(update))))
        await optional(call, "error reply")
