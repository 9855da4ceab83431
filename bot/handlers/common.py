"""What every handler shares: the typed bot data, the user's language, admin checks, and replying."""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction
from telegram.ext import CallbackContext, ExtBot

from bot.i18n import Lang, lang_of
from bot.limits import RateLimiter
from bot.render import html_chunks
from bot.telegram_io import optional

if TYPE_CHECKING:
    from bot.feeds import FeedWatcher
    from bot.services import Services
    from bot.storage import Storage
    from retrieval.pipeline import Answer

MAX_MESSAGE_CHARS = 2000
ANSWER_CACHE_SIZE = 2000


@dataclass
class BotData:
    """Application-wide state, typed (ContextTypes) instead of a loose dict."""

    services: Services | None = None
    storage: Storage | None = None
    data_version: float = 0.0
    reminder_hours: float = 24.0
    feeds: FeedWatcher | None = None
    admins: frozenset[int] = frozenset()
    limiter: RateLimiter = field(default_factory=RateLimiter)
    answers: OrderedDict[str, Answer] = field(default_factory=OrderedDict)
    warming: asyncio.Future[None] | None = None  # the passage search being built at start

    def remember(self, answer: Answer) -> str:
        """Keep an answer for its buttons; the oldest are forgotten first."""
        key = secrets.token_hex(6)
        self.answers[key] = answer
        while len(self.answers) > ANSWER_CACHE_SIZE:
            self.answers.popitem(last=False)
        return key


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]


def data(context: Context) -> BotData:
    return context.bot_data


def services(context: Context) -> Services:
    found = context.bot_data.services
    if found is None:
        raise RuntimeError("services are not attached to the application")
    return found


def user_lang(update: Update) -> Lang:
    user = update.effective_user
    return lang_of(user.language_code if user else None)


def is_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return user is not None and user.id in context.bot_data.admins


async def typing(update: Update, context: Context) -> None:
    chat = update.effective_chat
    if chat is not None:
        await optional(context.bot.send_chat_action(chat.id, ChatAction.TYPING), "sendChatAction")


async def reply(message: Message, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Send `text` (plain; escaped here) as one or more HTML messages; the keyboard goes on the last."""
    chunks = html_chunks(text)
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        await message.reply_text(chunk, reply_markup=keyboard if last else None, do_quote=i == 0)


async def send(context: Context, chat_id: int, text: str) -> None:
    """A message not in reply to anything (jobs): escaped and split like every reply."""
    for chunk in html_chunks(text):
        await context.bot.send_message(chat_id, chunk)
