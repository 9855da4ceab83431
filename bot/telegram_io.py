"""How the bot talks to the Bot API when things go wrong.

`RetryingRequest` retries server errors (5xx) and failed connections with backoff; `RetryAfter` (429) is
the rate limiter's job (`AIORateLimiter`). `optional` wraps calls the bot can live without
(setMyCommands, getChatMember, chat actions): a rejection is logged and skipped, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import HTTPXRequest

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRIES = 3
BACKOFF_SECONDS = 0.5


class RetryingRequest(HTTPXRequest):
    """HTTPXRequest that retries 5xx answers and connection failures (not timeouts: those may have
    been delivered, and a retry would send the message twice)."""

    def __init__(
        self, *args: Any, retries: int = RETRIES, backoff: float = BACKOFF_SECONDS, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.retries = retries
        self.backoff = backoff

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                code, payload = await super().do_request(url, method, *args, **kwargs)
            except TimedOut:
                raise
            except NetworkError as exc:
                if last:
                    raise
                logger.warning("Bot API connection failed (%s); retrying", type(exc).__name__)
            else:
                if code < 500 or last:
                    return code, payload
                logger.warning("Bot API answered %s; retrying", code)
            await asyncio.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")


async def optional(call: Awaitable[T], what: str) -> T | None:
    """Await a call the bot can do without; on a Telegram error log it and return None."""
    try:
        return await call
    except TelegramError as exc:
        logger.warning("%s failed and was skipped: %s", what, exc)
        return None
