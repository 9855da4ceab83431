"""`marketbot run --webhook` as a real process: it registers its webhook (with a secret) through the Bot API,
answers the updates Telegram posts to it, refuses forged posts, and stops cleanly without deleting the
webhook that other replicas may still serve."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from botapi import BotApiServer
from processes import BotProcess, free_port, wait_listening

QUESTION = "2024 年公有云 Tokens 调用量是多少?"


def webhook_config(server: BotApiServer, data_dir: Path, port: int, public_url: str) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": server.token,
        "TELEGRAM_API_BASE_URL": server.base_url,
        "TELEGRAM_FILE_BASE_URL": server.file_url,
        "MARKETBOT_DATA_DIR": str(data_dir),
        "WEBHOOK_URL": public_url,
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
    }


async def test_webhook_mode_answers_posted_updates_and_refuses_forged_ones(tmp_path: Path) -> None:
    async with BotApiServer() as server:
        port = free_port()
        config = webhook_config(server, tmp_path / "var", port, f"http://127.0.0.1:{port}/")
        bot = await BotProcess("webhook", tmp_path, config, ("run", "--webhook")).start()
        try:
            [registered] = await server.wait_for("setWebhook", timeout=90)
            assert registered.params["url"] == f"http://127.0.0.1:{port}/telegram"
            secret = registered.params.get("secret_token") or ""
            assert len(secret) >= 32, "without WEBHOOK_SECRET_TOKEN a secret is derived from the bot token"
            assert server.token.split(":", 1)[1] not in secret
            await wait_listening(port, bot)

            # Updates reach the bot only as posts to its endpoint: it never calls getUpdates.
            asked = server.push_message(5, QUESTION, language_code="zh-hans")
            [answer] = await server.wait_for("sendMessage", chat_id=5, timeout=30)
            assert "114.2 万亿" in answer.result["text"]
            assert answer.result["reply_to_message"]["message_id"] == asked["message_id"]
            server.push_message(6, "/help", language_code="en")
            [help_text] = await server.wait_for("sendMessage", chat_id=6, timeout=30)
            assert "/ask" in help_text.result["text"]
            assert [p.status for p in server.webhook_posts] == [200, 200]
            assert not server.sent("getUpdates")

            # Posts without the secret, with a wrong one, or with a broken body are refused.
            forged = {"update_id": 9_000, "message": {**asked, "chat": {"id": 7, "type": "private"}}}
            endpoint = registered.params["url"]
            async with aiohttp.ClientSession() as session:
                for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}):
                    async with session.post(endpoint, json=forged, headers=headers) as response:
                        assert response.status == 403
                broken = {"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"}
                async with session.post(
                    endpoint, data=b'{"update_id": 9001, "message": {', headers=broken
                ) as response:
                    assert response.status >= 400
            await asyncio.sleep(1.0)
            assert not server.sent("sendMessage", chat_id=7), "a forged update must not be answered"

            # ... and the bot is still serving.
            server.push_message(8, QUESTION, language_code="zh-hans")
            [again] = await server.wait_for("sendMessage", chat_id=8, timeout=30)
            assert "114.2 万亿" in again.result["text"]
        finally:
            returncode = await bot.stop()
        assert returncode == 0, bot.log()[-3000:]
        assert not server.sent("deleteWebhook"), "stopping one replica must not unhook the others"
        log = bot.log()
        assert server.token.split(":", 1)[1] not in log and secret not in log
