"""Real databases for storage tests: a temp SQLite file, or a fresh schema on the local PostgreSQL
(skipped when unreachable, unless MARKETBOT_REQUIRE_POSTGRES=1 makes that a failure, as in CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from bot.storage import Storage

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PG_SKIP_REASON = (
    "PostgreSQL not reachable at 127.0.0.1:5432 (set MARKETBOT_REQUIRE_POSTGRES=1 to make this a failure)"
)
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock, so times written by Storage are exact and can move forward on demand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Database:
    url: str
    engine_options: dict = field(default_factory=dict)

    def storage(self, clock=None) -> Storage:
        return Storage(self.url, engine_options=self.engine_options, clock=clock or Clock())


async def pg_admin():
    try:
        return await asyncpg.connect(PG_DSN, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError) as error:
        if os.environ.get("MARKETBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (MARKETBOT_REQUIRE_POSTGRES=1) but not reachable: {error!r}")
        pytest.skip(PG_SKIP_REASON)


async def open_database(kind: str, tmp_path) -> AsyncIterator[Database]:
    """Yield a Database of `kind` ("sqlite" or "postgresql"); PostgreSQL schemas are dropped afterwards."""
    if kind == "sqlite":
        yield Database(f"sqlite+aiosqlite:///{tmp_path / 'marketbot.sqlite3'}")
        return
    admin = await pg_admin()
    schema = f"test_storage_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Database(PG_URL, {"connect_args": {"server_settings": {"search_path": schema}}})
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
