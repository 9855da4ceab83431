"""The one ingestion path behind every door (an admin's upload, `marketbot ingest`, the inbox folder):
validate and store the files, queue one alert per changed (metric, entity), resolve the polls they settle.

Alerts are keyed by what changed, so re-ingesting identical data alerts nobody, whichever door it used.
"""

from __future__ import annotations

import asyncio
import fcntl
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import alerts
from bot.resolution import resolve_with_facts
from bot.storage import Storage
from knowledge.errors import InvalidFileError
from knowledge.ingest import FactStore, IngestResult, fact_to_json, ingest

DATA = "data"


@dataclass(frozen=True)
class Outcome:
    """What an ingest changed, which alerts it queued and which polls it resolved."""

    result: IngestResult
    alert_ids: tuple[int, ...]
    resolved_polls: tuple[int, ...]

    def summary(self) -> str:
        text = self.result.summary()
        if self.resolved_polls:
            text += "; resolved polls " + ", ".join(f"#{p}" for p in self.resolved_polls)
        return text


async def ingest_files(paths: Sequence[Path], data_dir: Path, storage: Storage, index: Any = None) -> Outcome:
    """Validate and store (raises InvalidFileError with every problem, storing nothing), then resolve polls.

    Alerts are queued before the facts are stored (keyed by the change, so a retry after a crash queues
    nothing twice); the store runs in a thread, and queues them on this loop while it waits."""
    loop = asyncio.get_running_loop()
    alert_ids: list[int] = []

    def queue_alerts(result: IngestResult) -> None:
        future = asyncio.run_coroutine_threadsafe(_queue_alerts(storage, result), loop)
        alert_ids.extend(future.result(timeout=60))

    result = await asyncio.to_thread(ingest, list(paths), FactStore(data_dir), index, None, queue_alerts)
    resolved = await resolve_with_facts(storage, result.changed)
    return Outcome(result, tuple(alert_ids), tuple(resolved))


async def _queue_alerts(storage: Storage, result: IngestResult) -> list[int]:
    alert_ids = []
    revised = [(r.before, r.after) for r in result.revised]
    for alert in alerts.data_alerts(result.new, revised):
        payload = {
            "facts": [fact_to_json(f) for f in alert.facts],
            "revised_from": [fact_to_json(f) if f is not None else None for f in alert.revised_from],
        }
        alert_id = await storage.add_alert(DATA, alert.key, payload, alert.topics)
        if alert_id is not None:
            alert_ids.append(alert_id)
    return alert_ids


# --- the inbox folder ---------------------------------------------------------------------------------------

INBOX_SUFFIXES = (".csv", ".xlsx", ".md", ".markdown")
SETTLE_SECONDS = 1.0  # a file still being written (modified this recently) waits for the next round


def inbox_dirs(data_dir: Path) -> tuple[Path, Path, Path]:
    root = data_dir / "inbox"
    dirs = (root, root / "processed", root / "failed")
    for folder in dirs:
        folder.mkdir(parents=True, exist_ok=True)
    return dirs


def ready_files(inbox: Path, now: float) -> list[Path]:
    return sorted(
        p for p in inbox.iterdir()
        if p.is_file() and p.suffix.lower() in INBOX_SUFFIXES and now - p.stat().st_mtime >= SETTLE_SECONDS
    )  # fmt: skip


@contextmanager
def inbox_turn(inbox: Path) -> Iterator[bool]:
    """True for the one process (of the replicas sharing this data dir) whose turn it is to read the inbox;
    the others get False and skip this round. The lock dies with its process, so a crash blocks nobody."""
    with (inbox / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def process_inbox(data_dir: Path, storage: Storage, index: Any, now: float) -> list[tuple[Path, str]]:
    """Ingest each settled file on its own; move it to processed/ or, with an error report, to failed/.

    Replicas sharing the data dir take turns, so each file is ingested by exactly one of them."""
    inbox, processed, failed = inbox_dirs(data_dir)
    with inbox_turn(inbox) as mine:
        if not mine:
            return []
        done: list[tuple[Path, str]] = []
        for path in ready_files(inbox, now):
            if not path.exists():  # taken by an operator meanwhile
                continue
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            try:
                outcome = await ingest_files([path], data_dir, storage, index)
            except InvalidFileError as exc:
                target = failed / f"{stamp}-{path.name}"
                shutil.move(str(path), target)
                target.with_name(target.name + ".errors.txt").write_text(exc.message + "\n", encoding="utf-8")
                done.append((target, exc.message))
                continue
            target = processed / f"{stamp}-{path.name}"
            shutil.move(str(path), target)
            done.append((target, outcome.summary()))
        return done
