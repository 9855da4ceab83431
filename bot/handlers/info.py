"""/start, /help, /sources and unknown commands."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.handlers.common import Context, reply, services, user_lang
from bot.i18n import EXAMPLES, text


async def on_start(update: Update, context: Context) -> None:
    """A greeting and three example questions as buttons."""
    message = update.effective_message
    if message is None:
        return
    lang = user_lang(update)
    rows = [[InlineKeyboardButton(q, callback_data=f"ask:{lang}:{i}")] for i, q in enumerate(EXAMPLES[lang])]
    await reply(message, text("start", lang), InlineKeyboardMarkup(rows))


async def on_help(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is not None:
        await reply(message, text("help", user_lang(update)))


async def on_sources(update: Update, context: Context) -> None:
    """Each table the answers draw on: report, latest publication, row count."""
    message = update.effective_message
    if message is None:
        return
    lang = user_lang(update)
    lines = [text("sources_header", lang)]
    for table in services(context).tables():
        reports = "; ".join(table.reports)
        lines.append(f"• {table.name}: {reports} ({table.published}; {table.rows} rows)")
    await reply(message, "\n".join(lines))


async def on_unknown_command(update: Update, context: Context) -> None:
    """A command we do not have: in groups only when it is addressed to us."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or not message.text or chat is None:
        return
    command = message.text.split()[0]
    if chat.type != "private" and not command.lower().endswith(f"@{context.bot.username.lower()}"):
        return
    await reply(message, text("unknown_command", user_lang(update)))
