"""Peak memory of a real `marketbot run` process: the console script started as in production, configured by
environment variables only, polling the Bot API test server (tests/botapi.py), answering every question of
benchmarks/questions.txt (figure and passage questions, so BM25, jieba and Chroma are all loaded), each
from its own private chat, all sent at once. Peak RSS is the kernel's high-water mark (VmHWM in
/proc/<pid>/status) read after the last reply and before SIGTERM; `ru_maxrss` of the exited child is
reported beside it as a cross-check.

Two data dirs: a fresh one (the shipped corpus only, indexed at start), and the 100,000-item one of
benchmarks/scale_data.py (100,000 facts and passages, already indexed; the process still reads it whole and
checks the index against it at start, as on every start). The goal is for a restart over an index in step
with the data (stamped by its last sync, so not read at start). A last start with the stamps cleared shows
the peak when a sync must diff both collections against Chroma, which loads both whole: the first start
over an index built before the stamps existed; an ingest does the same for the collection it changes.

Prints one JSON object. Goal: peak RSS under 1 GB with the 100,000-item data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scale_data import ROOT, scale_data

sys.path.insert(0, str(ROOT / "tests"))

from botapi import BotApiServer

GOAL_MB = 1024
RUNS = 1  # one start is about a minute at 100,000 items; `--runs` for more
CHAT_BASE = 700_000


def status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in MiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) // 1024
    return found


def environment(server: BotApiServer, data_dir: Path) -> dict[str, str]:
    """Only what the bot needs, so nothing from the caller's environment (or a `.env`) changes the run."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    return {
        **keep,
        "TELEGRAM_BOT_TOKEN": server.token,
        "TELEGRAM_API_BASE_URL": server.base_url,
        "TELEGRAM_FILE_BASE_URL": server.file_url,
        "MARKETBOT_DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "CHROMA_URL": "",
        "LOG_LEVEL": "WARNING",
    }


async def answered_chats(server: BotApiServer, chats: set[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not chats <= {c.chat_id for c in server.sent("sendMessage") if c.ok}:
        if time.monotonic() > deadline:
            missing = chats - {c.chat_id for c in server.sent("sendMessage") if c.ok}
            raise SystemExit(f"no reply in {timeout:.0f} s to {len(missing)} of {len(chats)} questions")
        await asyncio.sleep(0.1)


async def one_run(data_dir: Path, questions: list[str], log: Path) -> dict[str, Any]:
    """Start `marketbot run`, wait until it polls, ask every question at once, read its peak RSS, stop it."""
    marketbot = Path(sys.executable).parent / "marketbot"
    async with BotApiServer() as server:
        with tempfile.TemporaryDirectory() as cwd, log.open("ab") as errors:
            started = time.perf_counter()
            process = await asyncio.create_subprocess_exec(
                str(marketbot), "run", env=environment(server, data_dir), cwd=cwd,
                stdout=asyncio.subprocess.DEVNULL, stderr=errors,
            )  # fmt: skip
            try:
                rss_samples = []
                while not server.sent("getUpdates"):
                    if process.returncode is not None:
                        raise SystemExit(f"marketbot run exited with {process.returncode}; see {log}")
                    await asyncio.sleep(0.1)
                startup = time.perf_counter() - started
                rss_samples.append(status(process.pid)["VmRSS"])
                asked = time.perf_counter()
                chats = {CHAT_BASE + i for i in range(len(questions))}
                for chat, question in zip(sorted(chats), questions, strict=True):
                    server.push_message(chat, question, user_id=chat, language_code="zh-hans")
                await answered_chats(server, chats, timeout=900)
                answering = time.perf_counter() - asked
                memory = status(process.pid)
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(process.wait(), 60)
    return {
        "peak_rss_mb": memory["VmHWM"],
        "rss_after_answers_mb": memory["VmRSS"],
        "rss_when_polling_mb": rss_samples[0],
        "ru_maxrss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
        "startup_s": round(startup, 1),
        "answering_s": round(answering, 1),
        "exit_code": process.returncode,
    }


def summary(runs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    peak = statistics.median(r["peak_rss_mb"] for r in runs)
    return {"peak_rss_mb": peak, **extra, "runs": runs}


def forget_index_state(data_dir: Path) -> None:
    """Clear the collections' state stamps, as before their first sync or after a change: the next start
    diffs both collections against Chroma (and stamps them again)."""
    from chromadb.api.client import SharedSystemClient

    from retrieval.embeddings import get_embeddings
    from retrieval.index import STATE_KEY, Index

    index = Index(data_dir, None, get_embeddings("hashed"))
    for kind in ("passages", "facts"):
        index.client.get_collection(index.collection_name(kind)).modify(metadata={STATE_KEY: ""})
    SharedSystemClient.clear_system_cache()


def cleanup(data_dir: Path, before: set[str]) -> None:
    """Remove what the run added to a cached data dir (its SQLite database, an inbox folder)."""
    import shutil

    for path in data_dir.iterdir():
        if path.name not in before:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


async def main_async(runs: int, large: int) -> dict[str, Any]:
    questions = [q for q in (ROOT / "benchmarks" / "questions.txt").read_text(encoding="utf-8").splitlines() if q]
    log = Path(tempfile.gettempdir()) / "marketbot-bench-memory.log"
    log.write_bytes(b"")
    with tempfile.TemporaryDirectory() as tmp:
        small = [await one_run(Path(tmp) / f"shipped-{i}", questions, log) for i in range(runs)]
    data = scale_data(large)
    before = {p.name for p in data.data_dir.iterdir()}
    try:
        big = [await one_run(data.data_dir, questions, log) for _ in range(runs)]
        forget_index_state(data.data_dir)
        unstamped = await one_run(data.data_dir, questions, log)
    finally:
        cleanup(data.data_dir, before)
    peak = statistics.median(r["peak_rss_mb"] for r in big)
    return {
        "benchmark": "peak_memory",
        "questions": len(questions),
        "shipped_corpus": summary(small, facts=20, passages=26),
        f"items_{large}": summary(big, facts=data.manifest["facts"], passages=data.manifest["passages"]),
        f"items_{large}_index_unstamped": unstamped,
        "goals": {f"peak_rss_mb_at_{large}": {"goal": GOAL_MB, "value": peak, "met": peak < GOAL_MB}},
        "stderr_log": str(log),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="starts per data dir (default %(default)s)")
    parser.add_argument("--items", type=int, default=100_000, help="facts and passages in the large data dir")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args.runs, args.items))))


if __name__ == "__main__":
    main()
