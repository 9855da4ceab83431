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

from telegram import Update
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.ext import BaseUpdateProcessor
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


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates from different chats and people run concurrently (a busy group, waiting on Telegram's
    per-group limit, must not stall everyone else); one person's updates in one chat run in arrival order
    (a revised prediction never overtakes the one it replaces)."""

    __slots__ = ("_locks",)

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[object, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _order_key(update)
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def _order_key(update: object) -> object:
    """Updates with the same key keep their order: one person in one chat (their revised prediction must
    not overtake the original), else the person (poll answers carry no chat), else the chat."""
    if isinstance(update, Update):
        chat, user = update.effective_chat, update.effective_user
        if chat is not None or user is not None:
            return (chat.id if chat else None, user.id if user else None)
    return ("update", id(update))
