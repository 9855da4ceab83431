"""Fixtures for the Telegram tests: real `Services` over the shipped corpus, the fake Bot API server, and
`running_bot`, which starts the real application (build_application) polling that server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from botapi import BotApiServer

ADMIN_ID = 42


def make_settings(server: BotApiServer, data_dir: Path, **overrides):
    """Settings for a test: the fake server's URLs, admin 42, nothing read from `.env` or left to chance."""
    from bot.config import Settings

    values = {
        "telegram_bot_token": server.token if server is not None else "",
        "telegram_api_base_url": server.base_url if server is not None else "",
        "telegram_file_base_url": server.file_url if server is not None else "",
        "admin_user_ids": [ADMIN_ID],
        "marketbot_data_dir": data_dir,
        "database_url": "",
        "chroma_url": "",
        "llm_base_url": "",
        "llm_api_key": "",
        "llm_model": "",
        "webhook_url": "",
        "feed_urls": [],
    }
    values.update(overrides)
    return Settings(**values, _env_file=None)


@pytest.fixture(scope="module")
def services_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="module")
def services(services_data_dir: Path):
    """The real answer services (corpus + Chroma index in a temp data dir), built once per module."""
    from bot.services import Services

    return Services.load(make_settings(None, services_data_dir))


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer() as server:
        yield server


@contextlib.asynccontextmanager
async def running_bot(
    server: BotApiServer,
    tmp_path: Path,
    *,
    services,
    settings_overrides: dict | None = None,
    **build_overrides,
) -> AsyncIterator[tuple[object, BotApiServer]]:
    """Build the real application against `server`, start polling, yield (app, server), stop cleanly.

    `build_overrides` go to `build_application` (e.g. rate_limit=3); `settings_overrides` to Settings.
    """
    from bot.app import build_application

    settings = make_settings(server, tmp_path / "bot-data", **(settings_overrides or {}))
    app = build_application(settings, services, **build_overrides)
    # The order of Application.run_polling: `async with app` alone (initialize) does not run post_init.
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        await app.updater.start_polling(timeout=0.2, poll_interval=0)
        await app.start()
        try:
            yield app, server
        finally:
            # Let in-flight handlers finish so nothing writes to a stopped server.
            if app.updater.running:
                await asyncio.wait_for(app.updater.stop(), 10)
            if app.running:
                await app.stop()
                if app.post_stop:
                    await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)


@pytest.fixture
async def bot(server: BotApiServer, services, tmp_path: Path) -> AsyncIterator[BotApiServer]:
    """The bot with default limits, running against a fresh fake server; yields the server."""
    async with running_bot(server, tmp_path, services=services):
        yield server


# --- storage on real databases (SQLite and PostgreSQL) -------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request, tmp_path):
    from dbsupport import open_database

    async for found in open_database(request.param, tmp_path):
        yield found


@pytest.fixture
def clock():
    from dbsupport import Clock

    return Clock()


@pytest.fixture
async def storage(database, clock):
    storage = database.storage(clock)
    await storage.open()
    yield storage
    await storage.close()
