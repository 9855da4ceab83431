"""Charts: /chart <topic>, topic buttons, and the Chart button under an answer."""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.handlers.ask import pressed_answer
from bot.handlers.common import Context, reply, services, user_lang
from bot.i18n import text
from bot.services import topic_for, topics
from knowledge.errors import UserError


async def on_chart(update: Update, context: Context) -> None:
    """/chart <topic>: the chart as a PNG; /chart alone: the topics as buttons."""
    message = update.effective_message
    if message is None:
        return
    lang = user_lang(update)
    words = " ".join(context.args or [])
    if not words.strip():
        await reply(message, text("chart_topics", lang), _topic_buttons(lang))
        return
    topic = topic_for(words)
    if topic is None:
        listing = "\n".join(f"• {topic}: {title}" for topic, title in topics(lang))
        await reply(message, text("chart_unknown", lang, topics=listing))
        return
    await send_chart(message, context, topic, lang)


def _topic_buttons(lang: str) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(title, callback_data=f"chart_topic:{topic}")] for topic, title in topics(lang)]
    return InlineKeyboardMarkup(rows)


async def send_chart(message: Message, context: Context, topic: str, lang: str) -> None:
    try:
        png = await asyncio.to_thread(services(context).chart, topic, lang)
    except UserError as exc:
        await reply(message, exc.message)
        return
    await message.reply_photo(png, caption=f"/chart {topic}")


async def on_topic_button(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        return
    await query.answer()
    await send_chart(query.message, context, (query.data or "").removeprefix("chart_topic:"), user_lang(update))


async def on_answer_chart_button(update: Update, context: Context) -> None:
    """The Chart button under an answer: the cited figures side by side."""
    pressed = await pressed_answer(update, context, "chart:")
    if pressed is None:
        return
    message, answer = pressed
    png = await asyncio.to_thread(services(context).answer_chart, answer)
    if png is None:
        await reply(message, text("no_chart", answer.language))
        return
    await message.reply_photo(png)
