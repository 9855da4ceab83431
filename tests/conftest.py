"""Shared fixtures: a real `chroma run` server, and the Chroma backends (embedded or that server) that index
and answer tests run over."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Every index test runs on both: "embedded" is the PersistentClient under the data dir, "server" the one
# `chroma run` of the session, which is what CHROMA_URL points a scaled-out deployment at.
CHROMA_BACKENDS = [
    pytest.param("embedded", id="embedded"),
    pytest.param("server", id="server", marks=pytest.mark.chroma_server),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `chroma run` on a free local port, wait for its heartbeat, yield its URL, stop it."""
    import httpx

    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.skip(f"no chroma console script at {chroma}")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("wb")
    command = [str(chroma), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"chroma run exited with {process.returncode}; see {data / 'server.log'}")
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"chroma run did not answer within 30 s; see {data / 'server.log'}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def empty_chroma(url: str) -> str:
    """Delete every collection on the server: collection names are fixed per embedder, so each test that
    indexes must start from nothing rather than from what an earlier test left."""
    import chromadb
    from chromadb.config import Settings

    host, port = url.removeprefix("http://").rsplit(":", 1)
    client = chromadb.HttpClient(host=host, port=int(port), settings=Settings(anonymized_telemetry=False))
    for collection in client.list_collections():
        client.delete_collection(collection.name)
    return url


@pytest.fixture
def empty_chroma_server(chroma_server: str) -> str:
    """The session's server URL, with no collections on it."""
    return empty_chroma(chroma_server)


@pytest.fixture(params=CHROMA_BACKENDS)
def chroma_url(request: pytest.FixtureRequest) -> str | None:
    """What `Index(data_dir, chroma_url=...)` gets: None for embedded Chroma, else the emptied server's URL."""
    if request.param == "embedded":
        return None
    return str(request.getfixturevalue("empty_chroma_server"))


@pytest.fixture(scope="module", params=CHROMA_BACKENDS)
def module_chroma_url(request: pytest.FixtureRequest) -> str | None:
    """`chroma_url` for an index built once per module; the server is emptied once, at the module's start,
    so a module must not mix this with `chroma_url` (which would empty the server under its index)."""
    if request.param == "embedded":
        return None
    return empty_chroma(str(request.getfixturevalue("chroma_server")))
