"""Two real `marketbot run --webhook` replicas behind a round-robin reverse proxy, on one PostgreSQL database,
one `chroma run` server and one shared data dir: the scaled deployment of docker-compose.yml.

Updates are spread over both replicas; an ingest arriving at either one is answered by both, its alert
reaches each subscriber exactly once in total, and the poll it settles is resolved and announced once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from botapi import BotApiServer, Call
from processes import BotProcess, RoundRobinProxy, free_port, fresh_postgres_database, wait_listening

from bot.storage import Storage

pytestmark = [pytest.mark.postgres, pytest.mark.chroma_server]

ADMIN = 42
GROUP = -1009876543210
SUBSCRIBERS = (201, 202, 203)
PREDICTORS = {501: "1200万亿", 502: "1400万亿"}
QUESTION_2025 = "2025 年全年中国大模型公有云调用量是多少?"
TABLE = (
    "metric,entity,period,value,qualifier,unit,report,published,source,quote\n"
    "maas_tokens,china_public_cloud,2025,1300万亿,exact,tokens,IDC 2025 全年,2026-03,idc.example,全年 1300 万亿\n"
).encode()
ROUND = 3.0  # the bot's job interval: delivery, announcements and data following run this often


def is_alert(call: Call) -> bool:
    return call.ok and call.result.get("text", "").startswith(("新数据", "New data"))


def is_results(call: Call) -> bool:
    return call.ok and call.result.get("text", "").startswith("揭晓") and "reply_to_message" not in call.result


def replies_to(message: dict):
    def matches(call: Call) -> bool:
        return call.ok and (call.result.get("reply_to_message") or {}).get("message_id") == message["message_id"]

    return matches


async def say(server: BotApiServer, chat: int, text: str, user: int | None = None, **fields) -> str:
    message = server.push_message(chat, text, user_id=user or chat, language_code="zh-hans", **fields)
    [call] = await server.wait_for("sendMessage", chat_id=chat, predicate=replies_to(message), timeout=30)
    return call.result["text"]


async def in_group(server: BotApiServer, user: int, text: str) -> str:
    return await say(server, GROUP, text, user, chat_type="supergroup", chat_title="Market watchers")


@pytest.fixture
async def deployment(
    tmp_path: Path, empty_chroma_server: str
) -> AsyncIterator[tuple[BotApiServer, RoundRobinProxy, list]]:
    """The Bot API server, the proxy and two replicas started at the same moment (as a deploy does)."""
    ports = [free_port(), free_port()]
    async with (
        BotApiServer() as server,
        fresh_postgres_database() as database_url,
        RoundRobinProxy([f"http://127.0.0.1:{port}" for port in ports]) as proxy,
    ):
        shared = {
            "TELEGRAM_BOT_TOKEN": server.token,
            "TELEGRAM_API_BASE_URL": server.base_url,
            "TELEGRAM_FILE_BASE_URL": server.file_url,
            "ADMIN_USER_IDS": str(ADMIN),
            "MARKETBOT_DATA_DIR": str(tmp_path / "shared-data"),
            "DATABASE_URL": database_url,
            "CHROMA_URL": empty_chroma_server,
            "WEBHOOK_URL": proxy.url,
            "WEBHOOK_LISTEN": "127.0.0.1",
        }
        replicas = []
        for name, port in zip("ab", ports, strict=True):
            workdir = tmp_path / f"replica-{name}"
            workdir.mkdir()
            config = {**shared, "WEBHOOK_PORT": str(port)}
            replicas.append(BotProcess(f"replica-{name}", workdir, config, ("run", "--webhook")))
        await asyncio.gather(*(replica.start() for replica in replicas))
        try:
            await asyncio.gather(*(wait_listening(port, r) for port, r in zip(ports, replicas, strict=True)))
            registered = await server.wait_for("setWebhook", count=2, timeout=30)
            assert {c.params["url"] for c in registered} == {proxy.url + "/telegram"}
            assert len({c.params["secret_token"] for c in registered}) == 1, "replicas agree on the secret"
            server.database_url = database_url  # type: ignore[attr-defined]
            yield server, proxy, replicas
        finally:
            codes = await asyncio.gather(*(replica.stop() for replica in replicas))
            for replica, code in zip(replicas, codes, strict=True):
                log = replica.log()
                assert code == 0, f"{replica.name} exited with {code}:\n{log[-3000:]}"
                assert server.token.split(":", 1)[1] not in log


async def test_two_replicas_share_the_work_and_do_everything_once(deployment, tmp_path: Path) -> None:
    server, proxy, _ = deployment
    upstreams = proxy.upstreams

    # Questions are spread over both replicas, and each is answered once.
    for chat in range(101, 105):
        assert "114.2 万亿" in await say(server, chat, "2024 年公有云 Tokens 调用量是多少?")
    assert all(proxy.served_by(upstream) for upstream in upstreams), proxy.served
    assert "数据中没有" in await say(server, 105, QUESTION_2025)

    # State made on one replica is seen by the other: subscriptions, a poll and its predictions.
    for chat in SUBSCRIBERS:
        assert (await say(server, chat, "/subscribe")).startswith("已订阅:全部")
    opened = await in_group(server, ADMIN, "/newpoll maas_tokens 2025 2027-06-30")
    poll_id = int(re.match(r"#(\d+) ", opened)[1])  # type: ignore[index]
    for user, value in PREDICTORS.items():
        assert "已记录" in await in_group(server, user, f"/predict #{poll_id} {value}")
    assert "2 人预测" in await in_group(server, 503, f"/poll {poll_id}")

    # An admin's upload lands on one replica ...
    upload = server.push_document(ADMIN, TABLE, "idc_2025.csv", caption="/ingest", user_id=ADMIN)
    [receipt] = await server.wait_for("sendMessage", chat_id=ADMIN, predicate=replies_to(upload), timeout=60)
    assert receipt.result["text"].startswith("1 new, 0 revised"), receipt.result["text"]

    # ... and both answer from it, once they have followed the shared data (one job round).
    answered_by: set[str] = set()
    deadline = time.monotonic() + 30
    chat = 600
    while answered_by != set(upstreams):
        assert time.monotonic() < deadline, f"only {answered_by} answered with the ingested figure"
        chat += 1
        message = server.push_message(chat, QUESTION_2025, language_code="zh-hans")
        update_id = server.last_update_id
        [reply] = await server.wait_for("sendMessage", chat_id=chat, predicate=replies_to(message), timeout=30)
        if "1,300 万亿" in reply.result["text"]:
            answered_by |= {up for update, up, status in proxy.served if update == update_id and status == 200}
        else:
            await asyncio.sleep(0.5)

    # The alert reaches every subscriber once in total, the poll's results are announced once.
    for subscriber in SUBSCRIBERS:
        await server.wait_for("sendMessage", chat_id=subscriber, predicate=is_alert, timeout=30)
    await server.wait_for("sendMessage", chat_id=GROUP, predicate=is_results, timeout=30)
    await asyncio.sleep(3 * ROUND)  # any second delivery would have been made by now
    for subscriber in SUBSCRIBERS:
        alerts = server.sent("sendMessage", chat_id=subscriber)
        assert len([c for c in alerts if is_alert(c)]) == 1, [c.summary() for c in alerts]
    assert len([c for c in server.sent("sendMessage", chat_id=GROUP) if is_results(c)]) == 1
    assert "实际:1,300 万亿" in next(c for c in server.sent("sendMessage") if is_results(c)).result["text"]

    storage = Storage(server.database_url)  # type: ignore[attr-defined]
    await storage.open()
    try:
        poll = await storage.get_poll(poll_id)
        assert poll is not None and poll.actual == pytest.approx(1.3e15)
        assert len(await storage.scores(poll_id)) == len(PREDICTORS)
        [alert] = await storage.recent_alerts()
        assert (await storage.delivery_counts(alert.id)).get("sent") == len(SUBSCRIBERS)
    finally:
        await storage.close()
