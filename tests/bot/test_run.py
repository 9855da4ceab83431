"""`marketbot run` as a real process: configured by `.env` alone, it indexes, answers through the Bot API,
and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from botapi import BotApiServer


async def start_bot(server: BotApiServer, workdir: Path) -> asyncio.subprocess.Process:
    (workdir / ".env").write_text(
        f"TELEGRAM_BOT_TOKEN={server.token}\n"
        f"TELEGRAM_API_BASE_URL={server.base_url}\n"
        f"TELEGRAM_FILE_BASE_URL={server.file_url}\n"
        "MARKETBOT_DATA_DIR=./var\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "MARKETBOT_", "LLM_"))}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=workdir, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_run_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with BotApiServer() as server:
        process = await start_bot(server, tmp_path)
        try:
            await server.wait_for("getUpdates", timeout=60)
            started = time.monotonic()
            server.push_message(5, "2024 年公有云 Tokens 调用量是多少?", language_code="zh-hans")
            (sent,) = await server.wait_for("sendMessage", chat_id=5, timeout=30)
            assert "114.2 万亿" in sent.params["text"]
            assert time.monotonic() - started < 10
            assert (tmp_path / "var" / "chroma").is_dir(), "the index was built on start"
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, stderr.decode()[-2000:]
        assert server.token not in stderr.decode()
        assert server.token.split(":", 1)[1] not in stderr.decode()
