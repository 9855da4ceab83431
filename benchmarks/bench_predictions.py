"""Predictions recorded per second through the handler path: the real application (`build_application`)
polling the Bot API test server (tests/botapi.py), an admin's open poll in a supergroup, then N `/predict`
updates from N users pushed at once; timed until all N confirmations were sent. Median of 3 runs.

Each run is a fresh application and database: SQLite in a temp data dir, and with `--postgres URL`
(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test) also PostgreSQL in a fresh schema.

The bot's AIORateLimiter is built without limits here: with Telegram's 20 messages a minute per group
it enforces, 1000 confirmations in one group would take ~50 minutes whatever the handlers cost.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import harness
from botapi import BotApiServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

import bot.app
from bot.services import Services
from bot.storage import Storage

N = 1000
RUNS = 3
ADMIN_ID = harness.ADMIN_ID
GROUP = -1001234567890
USER_BASE = 100_000


def push(server: BotApiServer, user_id: int, text: str, language_code: str = "en") -> dict:
    return server.push_message(
        GROUP, text, user_id=user_id, first_name=f"u{user_id}", username=None,
        language_code=language_code, chat_type="supergroup",
    )  # fmt: skip


async def one_run(services: Services, data_dir: Path, storage: Storage | None) -> float:
    """One fresh application: open a poll, push N predictions at once; predictions per second."""
    async with BotApiServer() as server:
        app = bot.app.build_application(harness.settings(server, data_dir), services, storage=storage)
        async with harness.running(app):
            push(server, ADMIN_ID, "/newpoll maas_tokens 2025 2027-06-30", "zh-hans")
            await server.wait_for("sendPoll", chat_id=GROUP, predicate=lambda c: c.ok)
            started = time.perf_counter()
            for i in range(N):
                push(server, USER_BASE + i, f"/predict {1000 + i}万亿")
            await server.wait_for(
                "sendMessage",
                chat_id=GROUP,
                predicate=lambda c: c.ok and c.result["text"].startswith("Recorded"),
                count=N,
                timeout=600,
            )
            elapsed = time.perf_counter() - started
            await harness.stop(app)
            counts = await app.bot_data.storage.predictor_counts([1])
            if counts[1] != N:
                raise SystemExit(f"expected {N} predictions stored, found {counts[1]}")
    return N / elapsed


async def postgres_run(services: Services, data_dir: Path, url: str) -> float:
    """A run against PostgreSQL in a schema of its own, dropped afterwards."""
    schema = f"bench_predictions_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        options = {"connect_args": {"server_settings": {"search_path": schema}}}
        try:
            return await one_run(services, data_dir, Storage(url, engine_options=options))
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await admin.dispose()


def summary(runs: list[float], database: str) -> dict:
    return {
        "per_s_median": round(statistics.median(runs), 1),
        "runs": [round(r, 1) for r in runs],
        "database": database,
    }


async def main_async(postgres_url: str | None) -> dict:
    harness.lift_rate_limits()  # our handler path, not Telegram's flood limits (see the module docstring)
    with tempfile.TemporaryDirectory() as tmp:
        services = Services.load(harness.settings(None, Path(tmp) / "services"))
        sqlite_runs = [await one_run(services, Path(tmp) / f"sqlite-{i}", None) for i in range(RUNS)]
        result = {"benchmark": "predictions", "predictions": N, **summary(sqlite_runs, "sqlite")}
        result["rate_limiter"] = "off"
        if postgres_url:
            pg_runs = [await postgres_run(services, Path(tmp) / f"pg-{i}", postgres_url) for i in range(RUNS)]
            result["postgresql"] = summary(pg_runs, "postgresql")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL (postgresql+asyncpg://...)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(main_async(args.postgres))))


if __name__ == "__main__":
    main()
