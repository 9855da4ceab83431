"""Real `marketbot` processes for the deployment tests: bots started as an operator starts them (configured
by environment variables alone), a round-robin reverse proxy in front of webhook replicas, and a fresh
PostgreSQL database per test."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import ClientError, ClientSession, ClientTimeout, web

ROOT = Path(__file__).resolve().parents[1]
CONFIG_PREFIXES = (
    "TELEGRAM_", "MARKETBOT_", "LLM_", "DATABASE_URL", "CHROMA_URL", "FEED_", "ADMIN_", "WEBHOOK_", "EMBEDDINGS",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(config: dict[str, str]) -> dict[str, str]:
    """This process's environment without any marketbot configuration, plus `config`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    return {**env, **config}


@dataclass
class BotProcess:
    """`python -m bot <args>` in `workdir`; its output goes to `workdir/<name>.log`."""

    name: str
    workdir: Path
    config: dict[str, str]
    args: Sequence[str] = ("run",)
    process: asyncio.subprocess.Process | None = field(default=None, init=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    async def start(self) -> BotProcess:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", *self.args, cwd=self.workdir, env=clean_env(self.config),
                stdout=log, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; killed (and the test failed by the caller) if it does not exit in time."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return int(self.process.returncode or 0)


async def wait_listening(port: int, process: BotProcess, timeout: float = 90) -> None:
    """Until something accepts connections on 127.0.0.1:port; fails early if the process exits."""
    deadline = time.monotonic() + timeout
    while True:
        if not process.running:
            raise AssertionError(f"{process.name} exited before listening on {port}:\n{process.log()[-3000:]}")
        with suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{process.name} did not listen on {port} in {timeout}s:\n{process.log()[-3000:]}"
            )
        await asyncio.sleep(0.2)


@dataclass
class RoundRobinProxy:
    """A reverse proxy on 127.0.0.1 that hands each request to the next upstream in turn, as nginx does
    with an upstream block: body, headers and status pass through; a dead upstream answers 502."""

    upstreams: list[str]
    port: int = 0
    served: list[tuple[int, str, int]] = field(default_factory=list)  # (update_id, upstream, status)
    _turn: int = 0
    _runner: web.AppRunner | None = None
    _session: ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RoundRobinProxy:
        self._session = ClientSession(timeout=ClientTimeout(total=30))
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def served_by(self, upstream: str) -> list[int]:
        """Update ids the upstream accepted (2xx)."""
        return [update for update, up, status in self.served if up == upstream and 200 <= status < 300]

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        upstream = self.upstreams[self._turn % len(self.upstreams)]
        self._turn += 1
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        try:
            async with self._session.request(
                request.method, upstream + request.path_qs, data=body, headers=headers
            ) as response:
                status, payload = response.status, await response.read()
        except (ClientError, TimeoutError):
            status, payload = 502, b"bad gateway"
        with suppress(ValueError, KeyError, TypeError):
            self.served.append((int(json.loads(body)["update_id"]), upstream, status))
        return web.Response(status=status, body=payload, content_type="application/json")


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new, empty database on the local PostgreSQL (SQLAlchemy URL), dropped afterwards."""
    from dbsupport import pg_admin

    admin = await pg_admin()
    name = f"marketbot_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
