"""Prediction polls: open (admin), predict, watch the crowd, close and resolve (admin), leaderboard.

Parsing, scoring and wording live in `bot.polls`; state in `bot.storage`; this module only adapts.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from telegram import Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import polls
from bot.handlers.admin import admin_only
from bot.handlers.common import Context, data, reply, send, services, user_lang
from bot.i18n import Lang, text
from bot.resolution import entries, resolve_poll
from bot.storage import Poll, Prediction, Storage
from bot.telegram_io import optional
from knowledge.catalog import metric_info
from knowledge.errors import UserError
from knowledge.units import parse_quantity

logger = logging.getLogger(__name__)


def storage(context: Context) -> Storage:
    found = data(context).storage
    if found is None:
        raise RuntimeError("storage is not open")
    return found


def poll_lang(poll: Poll) -> Lang:
    """A poll speaks the language it was opened in (its question's)."""
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in poll.question) else "en"


@admin_only
async def on_newpoll(update: Update, context: Context) -> None:
    """/newpoll <metric> <period> [YYYY-MM-DD close] — opens a poll, and a native range poll beside it."""
    message, chat = update.effective_message, update.effective_chat
    user = update.effective_user
    if message is None or chat is None or user is None:
        return
    lang = user_lang(update)
    knowledge = services(context).knowledge
    try:
        spec = polls.parse_newpoll(
            context.args or [], knowledge.corpus.facts, services(context).metrics(), knowledge.corpus.entities,
            datetime.now(UTC).date(),
        )  # fmt: skip
    except UserError as exc:
        await reply(message, exc.message)
        return
    metric = metric_info(services(context).metrics(), spec.metric)
    subject = polls.subject_name(spec, knowledge.corpus.facts, knowledge.corpus.entities, lang)
    question = polls.poll_question(spec, metric, subject, lang)
    history = knowledge.corpus.facts.series(spec.metric, spec.entity)
    unit = history[0].unit if history else "tokens"
    ranges = polls.native_ranges(history, spec.period, unit)
    closes = datetime.combine(spec.closes, time(23, 59), tzinfo=UTC) if spec.closes else None
    poll = await storage(context).create_poll(
        chat.id, spec.metric, spec.entity, str(spec.period), question, user.id, closes, ranges
    )
    lines = [
        f"#{poll.id} {question}",
        *polls.history_lines(knowledge.corpus.facts, spec.metric, spec.entity, lang),
    ]
    lines.append(text("poll_how", lang, id=poll.id))
    if closes:
        lines.append(text("poll_closes", lang, date=spec.closes))
    await reply(message, "\n".join(lines))
    await _native_poll(context, chat.id, poll, ranges, unit, lang)


async def _native_poll(
    context: Context,
    chat_id: int,
    poll: Poll,
    ranges: list[tuple[float | None, float | None]],
    unit: str,
    lang: Lang,
) -> None:
    """The optional Telegram poll of ranges; non-anonymous so each vote arrives as a poll answer."""
    if not 2 <= len(ranges) <= 10:
        return
    # The default HTML parse mode applies to poll texts too: "< 600 万亿" must be escaped.
    options = [html.escape(polls.range_label(low, high, unit, lang), quote=False) for low, high in ranges]
    question = html.escape(f"#{poll.id} {poll.question}"[:250], quote=False)
    sent = await optional(context.bot.send_poll(chat_id, question, options, is_anonymous=False), "sendPoll")
    if sent is not None and sent.poll is not None:
        await storage(context).set_native_poll(poll.id, sent.poll.id, sent.message_id)


async def on_predict(update: Update, context: Context) -> None:
    """/predict [#id] <number>: one prediction per user per poll; a new one replaces the old."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or user is None:
        return
    lang = user_lang(update)
    args = list(context.args or [])
    try:
        poll = await _target_poll(context, chat.id, args, lang)
        unit = _unit_of(context, poll)
        value = polls.parse_prediction(" ".join(args), unit)
    except UserError as exc:
        await reply(message, exc.message)
        return
    replaced = await storage(context).upsert_prediction(poll.id, user.id, _name(update), value)
    confirmation = polls.confirmation(poll.id, value, unit, lang)
    await reply(message, confirmation + ("\n" + text("poll_replaced", lang) if replaced else ""))


async def _target_poll(context: Context, chat_id: int, args: list[str], lang: Lang) -> Poll:
    """The poll a /predict means: `#id` (or a bare id before the number), else the chat's only open poll."""
    store = storage(context)
    if len(args) >= 2 and _names_a_poll(args):
        poll = await store.get_poll(int(args.pop(0).lstrip("#")))
        if poll is None or poll.chat_id != chat_id:
            raise UserError(text("poll_unknown", lang))
        if poll.status != "open":
            raise UserError(text("poll_not_open", lang, id=poll.id, status=text(f"status_{poll.status}", lang)))
        return poll
    if not args:
        raise UserError(text("predict_usage", lang))
    open_polls = await store.open_polls(chat_id)
    if not open_polls:
        raise UserError(text("no_open_poll", lang))
    if len(open_polls) > 1:
        raise UserError(text("which_poll", lang, ids=", ".join(f"#{p.id}" for p in open_polls)))
    return open_polls[0]


def _names_a_poll(args: list[str]) -> bool:
    """ "#3 1500万亿" or "3 1500万亿" name poll 3; "1500 万亿" is one number with a spaced unit."""
    first = args[0]
    if first.startswith("#"):
        return first[1:].isdigit()
    if not first.isdigit():
        return False
    try:
        parse_quantity(" ".join(args[1:]))
    except UserError:
        return False
    return True


def _unit_of(context: Context, poll: Poll) -> str:
    series = services(context).knowledge.corpus.facts.series(poll.metric, poll.entity)
    info = services(context).metrics().get(poll.metric)
    if series:
        return series[0].unit
    return "percent" if info is not None and info.kind == "share" else "tokens"


def _name(update: Update) -> str:
    user = update.effective_user
    if user is None:
        return "?"
    return user.full_name or (f"@{user.username}" if user.username else str(user.id))


async def on_polls(update: Update, context: Context) -> None:
    """/polls: the chat's open polls with predictor counts and close dates."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    lang = user_lang(update)
    open_polls = await storage(context).open_polls(chat.id)
    if not open_polls:
        await reply(message, text("no_open_poll", lang))
        return
    counts = await storage(context).predictor_counts([p.id for p in open_polls])
    lines = [text("polls_header", lang)]
    for poll in open_polls:
        closes = poll.closes_at.date().isoformat() if poll.closes_at else "—"
        lines.append(
            text("polls_line", lang, id=poll.id, question=poll.question, n=counts.get(poll.id, 0), closes=closes)
        )
    await reply(message, "\n".join(lines))


async def on_poll(update: Update, context: Context) -> None:
    """/poll <id>: the crowd's median, quartiles and a log-scale histogram; no individual values."""
    found = await _named_poll(update, context)
    if found is None:
        return
    message, lang, poll = found
    if poll.status == "resolved":
        await reply(message, await results_message(storage(context), poll))
        return
    values = [v for v in _values(await storage(context).predictions(poll.id)) if v > 0]
    dist = polls.distribution(values)
    closes = poll.closes_at.date() if poll.closes_at else None
    unit = _unit_of(context, poll)
    await reply(message, polls.summary_text(poll.question, dist, closes, poll.status, lang, unit=unit))
    if dist is not None:
        from bot.charts import histogram_png

        png = await asyncio.to_thread(histogram_png, polls.histogram_bins(values), _unit_of(context, poll), lang)
        await message.reply_photo(png, caption=f"#{poll.id}")


def _values(predictions: Sequence[Prediction]) -> list[float]:
    """Number predictions, and range votes at their representative value (as the crowd median uses)."""
    out = []
    for p in predictions:
        value = p.value if p.value is not None else polls.range_point(p.low, p.high)
        if value is not None:
            out.append(value)
    return out


@admin_only
async def on_closepoll(update: Update, context: Context) -> None:
    """/closepoll <id>: no more predictions; the poll still resolves when the figure arrives."""
    found = await _named_poll(update, context)
    if found is None:
        return
    message, lang, poll = found
    closed = await storage(context).close_poll(poll.id)
    status = text(f"status_{poll.status}", lang)
    await reply(message, text("poll_closed" if closed else "poll_not_open", lang, id=poll.id, status=status))


@admin_only
async def on_resolve(update: Update, context: Context) -> None:
    """/resolve <id> <number>: resolve by hand with the admin's figure."""
    found = await _named_poll(update, context)
    if found is None:
        return
    message, lang, poll = found
    try:
        actual = polls.parse_prediction(" ".join((context.args or [])[1:]), _unit_of(context, poll))
    except UserError as exc:
        await reply(message, exc.message)
        return
    source = text("resolved_by_hand", lang, name=_name(update))
    if await resolve_poll(storage(context), poll, actual, source) is None:
        await reply(message, text("poll_not_open", lang, id=poll.id, status=text("status_resolved", lang)))
    # the results message goes out through the announcement job, like every resolution


async def _named_poll(update: Update, context: Context) -> tuple[Message, Lang, Poll] | None:
    """The poll `/<command> <id>` names in this chat; says so and returns None when there is none."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return None
    lang = user_lang(update)
    args = context.args or []
    poll = (
        await storage(context).get_poll(int(args[0].lstrip("#")))
        if args and args[0].lstrip("#").isdigit()
        else None
    )
    if poll is None or poll.chat_id != chat.id:
        await reply(message, text("poll_unknown", lang))
        return None
    return message, lang, poll


async def on_leaderboard(update: Update, context: Context) -> None:
    """/leaderboard: this chat's predictors across resolved polls."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    lang = user_lang(update)
    rows = await storage(context).leaderboard(chat.id)
    if not rows:
        await reply(message, text("leaderboard_empty", lang))
        return
    lines = [text("leaderboard_header", lang)]
    for i, row in enumerate(rows[:20], 1):
        lines.append(text("leaderboard_line", lang, i=i, name=row.user_name, score=f"{row.mean_score:.3f}",
                          n=row.polls_played, best=row.best_rank))  # fmt: skip
    await reply(message, "\n".join(lines))


async def on_poll_answer(update: Update, context: Context) -> None:
    """A vote in the native range poll counts as a range prediction; a retracted vote removes it."""
    answer = update.poll_answer
    if answer is None or answer.user is None:
        return
    poll = await storage(context).poll_by_native(answer.poll_id)
    if poll is None or poll.status != "open":
        return
    if not answer.option_ids:
        await storage(context).delete_prediction(poll.id, answer.user.id)
        return
    index = answer.option_ids[0]
    if index < len(poll.ranges):
        low, high = poll.ranges[index]
        await storage(context).upsert_prediction(poll.id, answer.user.id, answer.user.full_name, None, low, high)


async def results_message(store: Storage, poll: Poll) -> str:
    """The results text; predictions stay stored after resolution, so scoring again gives the same ranking."""
    results = polls.resolve(entries(await store.predictions(poll.id)), poll.actual or 0.0)
    unit = "percent" if poll.metric.endswith("share") else "tokens"
    return polls.results_text(poll.question, results, unit, poll.actual_source or "", poll_lang(poll))


# --- jobs ---------------------------------------------------------------------------------------------------


async def announce(context: Context) -> None:
    """Send the results of polls resolved anywhere (CLI ingest, another replica, /resolve).

    Each announcement is claimed before it is sent, so of several replicas exactly one sends it; a send
    that failed for a passing reason (network, flood control) goes back in the queue for the next round."""
    store = storage(context)
    for item in await store.pending_announcements():
        if not await store.mark_announced(item.id):
            continue  # another replica took it
        poll = await store.get_poll(int(item.payload.get("poll_id", 0)))
        if poll is None:
            continue
        try:
            await send(context, item.chat_id, await results_message(store, poll))
        except (BadRequest, Forbidden) as exc:  # the chat is gone or refuses the bot: retrying cannot help
            logger.warning("Dropped the results of poll #%s for chat %s: %s", poll.id, item.chat_id, exc)
        except TelegramError as exc:
            logger.warning("Could not announce results of poll #%s yet: %s", poll.id, exc)
            await store.release_announcement(item.id)


async def remind_and_close(context: Context) -> None:
    """A day before a poll closes, remind the chat; when it has closed, say so."""
    store = storage(context)
    now = datetime.now(UTC)
    ahead = timedelta(hours=data(context).reminder_hours)
    for poll in await store.polls_closing_between(now, now + ahead):
        if await store.mark_reminded(poll.id):
            reminder = text("poll_reminder", poll_lang(poll), id=poll.id, question=poll.question)
            await optional(send(context, poll.chat_id, reminder), "reminder")
    for poll in await store.polls_past_close(now):
        if await store.close_poll(poll.id):
            notice = text("poll_closed", poll_lang(poll), id=poll.id)
            await optional(send(context, poll.chat_id, notice), "close notice")
