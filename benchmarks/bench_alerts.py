"""Alerts delivered per second to 1,000 subscribed chats: the real application (`build_application`) with its
`deliver-alerts` job, sending through the Bot API test server (tests/botapi.py). Each run: a fresh data dir
and SQLite database, 1,000 private chats subscribed to everything (written with `Storage`), then one table
ingested through `bot.ingestion.ingest_files`; timed from the ingest until the 1,000th alert has arrived.
Median of 3 runs.

The bot's AIORateLimiter is built without limits here, so this measures our delivery path (claim, send,
mark sent; the job's interval and batch size). With Telegram's real limits (about 30 messages a second
overall, which the shipped limiter enforces) the real rate is capped by Telegram, not by this path.

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
from pathlib import Path

import harness
from botapi import BotApiServer, Call

import bot.app
from bot.ingestion import ingest_files
from bot.services import Services
from bot.storage import Storage

CHATS = 1000
RUNS = 3
CHAT_BASE = 1_000_000
TABLE = (
    "metric,entity,period,value,qualifier,unit,report,published,source,quote\n"
    "maas_tokens,china_public_cloud,2025,1300万亿,exact,tokens,IDC 2025 全年,2026-03,idc.example,全年 1300 万亿\n"
)


def is_alert(call: Call) -> bool:
    return call.ok and call.result.get("text", "").startswith("新数据")


async def one_run(services: Services, data_dir: Path, job_interval: float) -> float:
    """One fresh application and database; alerts delivered per second."""
    async with BotApiServer() as server:
        config = harness.settings(server, data_dir)
        subscriptions = Storage(config.database)
        await subscriptions.open()
        try:
            for i in range(CHATS):
                await subscriptions.subscribe(CHAT_BASE + i, "all")
        finally:
            await subscriptions.close()
        table = data_dir / "idc_2025.csv"
        table.write_text(TABLE, encoding="utf-8")

        app = bot.app.build_application(config, services, job_interval=job_interval)
        async with harness.running(app):
            started = time.perf_counter()
            outcome = await ingest_files([table], data_dir, app.bot_data.storage)
            if len(outcome.alert_ids) != 1:
                raise SystemExit(f"expected one alert, got {outcome.alert_ids} ({outcome.summary()})")
            await server.wait_for("sendMessage", predicate=is_alert, count=CHATS, timeout=600)
            elapsed = time.perf_counter() - started
            await harness.stop(app)
            counts = await app.bot_data.storage.delivery_counts(outcome.alert_ids[0])
            if counts != {"sent": CHATS}:
                raise SystemExit(f"expected {CHATS} deliveries sent, found {counts}")
            sent = [c for c in server.sent("sendMessage") if is_alert(c)]
            if len({c.chat_id for c in sent}) != CHATS or len(sent) != CHATS:
                raise SystemExit(f"{len(sent)} alerts to {len({c.chat_id for c in sent})} chats")
    return CHATS / elapsed


async def main_async(job_interval: float) -> dict:
    harness.lift_rate_limits()  # our delivery path, not Telegram's flood limits (see the module docstring)
    with tempfile.TemporaryDirectory() as tmp:
        services = Services.load(harness.settings(None, Path(tmp) / "services"))
        runs = [await one_run(services, Path(tmp) / f"run-{i}", job_interval) for i in range(RUNS)]
    return {
        "benchmark": "alert_delivery",
        "chats": CHATS,
        "per_s_median": round(statistics.median(runs), 1),
        "runs": [round(r, 1) for r in runs],
        "job_interval_s": job_interval,
        "rate_limiter": "off",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--job-interval", type=float, default=0.3, help="seconds between delivery rounds (the bot's default: 3)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(main_async(args.job_interval))))


if __name__ == "__main__":
    main()
