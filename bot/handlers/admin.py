"""Admin commands: only users in ADMIN_USER_IDS; everyone else gets a polite refusal and nothing changes."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update

from bot.handlers.common import Context, data, is_admin, reply, services, user_lang
from bot.i18n import text

logger = logging.getLogger(__name__)

Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def admin_only(handler: Handler) -> Handler:
    """Refuse politely unless the sender is a bot admin."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: Context) -> None:
        if not is_admin(update, context):
            message = update.effective_message
            if message is not None:
                await reply(message, text("not_admin", user_lang(update)))
            return
        await handler(update, context)

    return guarded


@admin_only
async def on_reload(update: Update, context: Context) -> None:
    """/reload: re-read the corpus and everything ingested (e.g. by `marketbot ingest`) since start."""
    summary = await asyncio.to_thread(services(context).reload)
    message = update.effective_message
    if message is not None:
        await reply(message, text("reloaded", user_lang(update), summary=summary))


async def follow_data(context: Context) -> None:
    """Reload when something was ingested into the data dir by another process (e.g. `marketbot ingest`)."""
    version = await asyncio.to_thread(services(context).data_version)
    if version != data(context).data_version:
        data(context).data_version = version
        summary = await asyncio.to_thread(services(context).reload)
        logger.info("Data changed on disk; reloaded: %s", summary)
