"""Asking: private text, /ask, mentions and replies in groups; answers with Sources and Chart buttons."""

from __future__ import annotations

import asyncio
import math
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update

from bot.handlers.common import MAX_MESSAGE_CHARS, Context, data, reply, services, typing, user_lang
from bot.i18n import EXAMPLES, text
from bot.render import sources_text
from retrieval.pipeline import Answer


async def on_private_text(update: Update, context: Context) -> None:
    """Any text in a private chat is a question."""
    message = update.effective_message
    if message is not None and message.text:
        await answer_question(update, context, message, message.text)


async def on_ask(update: Update, context: Context) -> None:
    """/ask <question>, in any chat."""
    message = update.effective_message
    if message is None:
        return
    question = " ".join(context.args or [])
    if not question.strip():
        await reply(message, text("ask_empty", user_lang(update)))
        return
    await answer_question(update, context, message, question)


async def on_group_text(update: Update, context: Context) -> None:
    """In groups, answer only a mention of the bot or a reply to one of its messages."""
    message = update.effective_message
    if message is None or not message.text:
        return
    mentioned = _mentions_bot(message, context.bot.username)
    replied = (
        message.reply_to_message is not None
        and message.reply_to_message.from_user is not None
        and message.reply_to_message.from_user.id == context.bot.id
    )
    if not (mentioned or replied):
        return
    question = re.sub(rf"@{re.escape(context.bot.username)}\b", " ", message.text, flags=re.IGNORECASE).strip()
    await answer_question(update, context, message, question)


def _mentions_bot(message: Message, username: str) -> bool:
    mentions = message.parse_entities([MessageEntity.MENTION]).values()
    return any(mention.lower() == f"@{username.lower()}" for mention in mentions)


TYPING_AFTER = 0.3  # seconds an answer may take before the chat is shown "typing…"


async def answer_question(update: Update, context: Context, message: Message, question: str) -> None:
    """The whole exchange: limits, typing, the answer, its buttons."""
    lang = user_lang(update)
    if len(question) > MAX_MESSAGE_CHARS:
        await reply(message, text("too_long", lang, n=len(question), limit=MAX_MESSAGE_CHARS))
        return
    user = update.effective_user
    limiter = data(context).limiter
    if user is not None and not limiter.allow(user.id):
        seconds = math.ceil(limiter.retry_in(user.id))
        await reply(message, text("rate_limited", lang, seconds=seconds))
        return
    work = asyncio.ensure_future(asyncio.to_thread(services(context).answer, question))
    done, _ = await asyncio.wait({work}, timeout=TYPING_AFTER)
    if not done:  # most answers take milliseconds; "typing…" is for the slow ones (and costs a request)
        await typing(update, context)
    answer = await work
    await reply(message, answer.answer, _buttons(answer, data(context).remember(answer)))


def _buttons(answer: Answer, key: str) -> InlineKeyboardMarkup | None:
    row = []
    if answer.facts or answer.passages:
        row.append(InlineKeyboardButton(text("sources_button", answer.language), callback_data=f"src:{key}"))
    if answer.chartable:
        row.append(InlineKeyboardButton(text("chart_button", answer.language), callback_data=f"chart:{key}"))
    return InlineKeyboardMarkup([row]) if row else None


async def recall(update: Update, context: Context, key: str) -> Answer | None:
    """The answer behind a button: from memory, or (after a restart) by asking the quoted question again."""
    found = data(context).answers.get(key)
    if found is not None:
        return found
    query = update.callback_query
    message = query.message if query else None
    original = message.reply_to_message if isinstance(message, Message) else None
    if original is None or not original.text:
        return None
    question = re.sub(r"^/ask(@\w+)?\s*", "", original.text)
    return await asyncio.to_thread(services(context).answer, question)


async def pressed_answer(update: Update, context: Context, prefix: str) -> tuple[Message, Answer] | None:
    """For a button under an answer: acknowledge it and find the answer, or say it has expired."""
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        return None
    await query.answer()
    answer = await recall(update, context, (query.data or "").removeprefix(prefix))
    if answer is None:
        await reply(query.message, text("expired", user_lang(update)))
        return None
    return query.message, answer


async def on_sources_button(update: Update, context: Context) -> None:
    """The Sources button: the cited quotes and reports of one answer."""
    pressed = await pressed_answer(update, context, "src:")
    if pressed is not None:
        message, answer = pressed
        await reply(message, sources_text(answer, answer.language, services(context).entity_names()))


async def on_example_button(update: Update, context: Context) -> None:
    """An example question from /start, pressed."""
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        return
    await query.answer()
    lang, _, index = (query.data or "").removeprefix("ask:").partition(":")
    examples = EXAMPLES["zh" if lang == "zh" else "en"]
    if index.isdigit() and int(index) < len(examples):
        await answer_question(update, context, query.message, examples[int(index)])
