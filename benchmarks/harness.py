"""What the bot benchmarks share: settings pointed at the Bot API test server, the application started and
stopped in `run_polling`'s order, and Telegram's flood limits lifted so the figures measure our path."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from botapi import BotApiServer  # noqa: E402
from telegram.ext import AIORateLimiter, Application  # noqa: E402

import bot.app  # noqa: E402
from bot.config import Settings  # noqa: E402

ADMIN_ID = 42


def settings(server: BotApiServer | None, data_dir: Path, database_url: str = "") -> Settings:
    """As tests/bot/conftest.py makes them: the test server's URLs, admin 42, nothing read from `.env`."""
    return Settings(
        telegram_bot_token=server.token if server else "",
        telegram_api_base_url=server.base_url if server else "",
        telegram_file_base_url=server.file_url if server else "",
        admin_user_ids=[ADMIN_ID],
        marketbot_data_dir=data_dir,
        database_url=database_url,
        chroma_url="",
        llm_base_url="",
        llm_api_key="",
        llm_model="",
        webhook_url="",
        feed_urls=[],
        _env_file=None,
    )


def lift_rate_limits() -> None:
    """Build the bot's AIORateLimiter without limits: Telegram's (about 30 messages/s) would cap the figure."""
    bot.app.AIORateLimiter = functools.partial(AIORateLimiter, overall_max_rate=0, group_max_rate=0)  # type: ignore[misc]


async def stop(app: Application) -> None:  # type: ignore[type-arg]
    """Stop polling and jobs (idempotent); storage stays open for checks until the block ends."""
    if app.updater is not None and app.updater.running:
        await asyncio.wait_for(app.updater.stop(), 10)
    if app.running:
        await app.stop()


@asynccontextmanager
async def running(app: Application) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The application polling the test server, started and shut down as `run_polling` does."""
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        assert app.updater is not None
        await app.updater.start_polling(timeout=0.2, poll_interval=0)
        await app.start()
        try:
            yield app
        finally:
            await stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)
