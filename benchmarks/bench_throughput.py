"""Questions answered per second through the Bot API test server (tests/botapi.py) with 50 concurrent users:
50 private chats, each asking the questions of benchmarks/questions.txt in turn (each user starting at a
different one), the next as soon as the whole reply to the previous has arrived. The same load is run
against our application (`build_application`, shipped corpus, answers loaded and warm) and against an echo
bot: python-telegram-bot's minimal Application with one MessageHandler that replies with the text. The
echo bot is measured as built by default (updates handled one at a time) and with `concurrent_updates`
(as ours handles them); the ratio is taken against the faster. Our bot is also run with every answer
computed beforehand, which separates the answer pipeline's share from the bot path's. Median of 3 runs each.

Telegram's flood limits are off for both (ours is built with an AIORateLimiter without limits, the echo bot
has none), and our per-user limit (20 questions a minute) is raised out of the way: the figure is our
handler path, not the limits. Everything (test server, load, bot, answer threads) shares one process on
2 cores, so both figures include the server's own work.

Prints one JSON object. Goal: at least half the echo bot's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
from botapi import BotApiServer, Call
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

import bot.app
from bot.render import html_chunks
from bot.services import Services
from retrieval.pipeline import Answer

USERS = 50
PER_USER = 20
RUNS = 3
CHAT_BASE = 500_000
GOAL_RATIO = 0.5


class Load:
    """Users who each wait for the whole reply (all its messages) before asking again."""

    def __init__(self, server: BotApiServer, questions: list[str], replies: dict[str, int]) -> None:
        self.server = server
        self.questions = questions
        self.replies = replies  # messages in the reply to each question
        self._waiting: dict[int, tuple[int, asyncio.Future[None]]] = {}
        self._seen = 0  # calls before this index are counted
        self._counted: set[int] = set()
        self.failed: list[Call] = []

    async def run(self, users: int, per_user: int) -> float:
        """Questions answered per second."""
        watcher = asyncio.create_task(self._watch())
        started = time.perf_counter()
        try:
            await asyncio.gather(*(self._user(CHAT_BASE + u, u, per_user) for u in range(users)))
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        return users * per_user / (time.perf_counter() - started)

    async def _user(self, chat: int, offset: int, count: int) -> None:
        for i in range(count):
            question = self.questions[(offset + i) % len(self.questions)]
            done = asyncio.get_running_loop().create_future()
            self._waiting[chat] = (self.replies[question], done)
            self.server.push_message(chat, question, user_id=chat, first_name=f"u{chat}", username=None)
            await asyncio.wait_for(done, 60)

    async def _watch(self) -> None:
        """Count each answered sendMessage once, scanning only calls not yet counted."""
        while True:
            calls = self.server.calls
            first_open = None
            for i in range(self._seen, len(calls)):
                call = calls[i]
                if call.status is None:
                    first_open = i if first_open is None else first_open
                elif call.method == "sendMessage" and id(call) not in self._counted:
                    self._counted.add(id(call))  # calls after an unanswered one are seen again
                    self._count(call)
            self._seen = len(calls) if first_open is None else first_open
            await self.server.next_call(0.05)

    def _count(self, call: Call) -> None:
        if not call.ok:
            self.failed.append(call)
        chat = int(call.chat_id)
        waiting = self._waiting.get(chat)
        if waiting is None:
            return
        left, done = waiting
        if left <= 1:
            del self._waiting[chat]
            done.set_result(None)
        else:
            self._waiting[chat] = (left - 1, done)


class Precomputed(Services):
    """Our services with every answer computed beforehand: what the bot path costs without the pipeline."""

    def __init__(self, services: Services, questions: list[str]) -> None:
        super().__init__(services.settings, services.knowledge, services.index)
        self._answers = {q: services.answer(q) for q in questions}

    def answer(self, question: str) -> Answer:
        return self._answers[question]


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with the text."""
    if update.effective_message is not None and update.effective_message.text:
        await update.effective_message.reply_text(update.effective_message.text)


def echo_application(server: BotApiServer, concurrent: bool) -> Application:  # type: ignore[type-arg]
    builder = ApplicationBuilder().token(server.token).base_url(server.base_url).base_file_url(server.file_url)
    app = builder.concurrent_updates(concurrent).build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


async def one_run(
    kind: str, services: Services, data_dir: Path, questions: list[str], replies: dict[str, int]
) -> float:
    async with BotApiServer() as server:
        if kind.startswith("marketbot"):
            settings = harness.settings(server, data_dir)
            if kind == "marketbot_precomputed":
                services = Precomputed(services, questions)
            app = bot.app.build_application(settings, services, rate_limit=10**9, rate_window=1.0)
        else:
            app = echo_application(server, concurrent=kind == "echo_concurrent")
            replies = dict.fromkeys(questions, 1)
        async with harness.running(app):
            load = Load(server, questions, replies)
            rate = await load.run(USERS, PER_USER)
            if load.failed:
                raise SystemExit(f"{kind}: {len(load.failed)} replies failed, e.g. {load.failed[0].summary()}")
    return rate


async def main_async(runs: int) -> dict[str, Any]:
    harness.lift_rate_limits()  # our handler path, not Telegram's flood limits (see the module docstring)
    questions = [
        q for q in (harness.ROOT / "benchmarks" / "questions.txt").read_text(encoding="utf-8").splitlines() if q
    ]
    with tempfile.TemporaryDirectory() as tmp:
        services = Services.load(harness.settings(None, Path(tmp) / "services"))
        replies = {q: len(html_chunks(services.answer(q).answer)) for q in questions}  # also warms everything up
        rates: dict[str, list[float]] = {
            "marketbot": [],
            "marketbot_precomputed": [],
            "echo": [],
            "echo_concurrent": [],
        }
        for i in range(runs):
            for kind in rates:
                rates[kind].append(await one_run(kind, services, Path(tmp) / f"{kind}-{i}", questions, replies))
    medians = {kind: statistics.median(values) for kind, values in rates.items()}
    baseline = max(medians["echo"], medians["echo_concurrent"])
    ratio = medians["marketbot"] / baseline
    return {
        "benchmark": "bot_throughput",
        "users": USERS,
        "questions": USERS * PER_USER,
        "questions_per_s": {kind: round(value, 1) for kind, value in medians.items()},
        "runs": {kind: [round(r, 1) for r in values] for kind, values in rates.items()},
        "ratio": round(ratio, 2),
        "ratio_to": "echo_concurrent" if baseline == medians["echo_concurrent"] else "echo",
        "rate_limiter": "off",
        "goals": {"ratio": {"goal": GOAL_RATIO, "value": round(ratio, 2), "met": ratio >= GOAL_RATIO}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="runs per bot (default %(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(main_async(args.runs))))


if __name__ == "__main__":
    main()
