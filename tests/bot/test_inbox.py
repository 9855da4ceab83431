"""The inbox folder shared by replicas: one process at a time reads it, so each file is ingested once."""

from __future__ import annotations

import asyncio
import fcntl
import time
from pathlib import Path

from bot.ingestion import inbox_dirs, inbox_turn, process_inbox
from bot.storage import Storage

TABLE = (
    "metric,entity,period,value,qualifier,unit,report,published,source,quote\n"
    "maas_tokens,china_public_cloud,2025,1300万亿,exact,tokens,IDC 2025 全年,2026-03,idc.example,全年 1300 万亿\n"
)


async def test_a_replica_skips_the_inbox_while_another_reads_it_and_each_file_is_ingested_once(tmp_path: Path):
    data = tmp_path / "shared"
    inbox, processed, _ = inbox_dirs(data)
    (inbox / "idc_2025.csv").write_text(TABLE, encoding="utf-8")
    later = time.time() + 5  # the file has settled
    storage = Storage(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    await storage.open()
    try:
        with (inbox / ".lock").open("w") as other_replica:
            fcntl.flock(other_replica, fcntl.LOCK_EX)
            assert await process_inbox(data, storage, None, later) == []
            assert (inbox / "idc_2025.csv").exists(), "left for the replica whose turn it is"
        [(moved, summary)] = await process_inbox(data, storage, None, later)
        assert moved.parent == processed and summary.startswith("1 new")

        # Two readers at once (as two replicas' jobs): the file is ingested by one of them.
        (inbox / "again.csv").write_text(TABLE.replace("1300万亿", "1310万亿"), encoding="utf-8")
        done = await asyncio.gather(*(process_inbox(data, storage, None, later) for _ in range(2)))
        assert sorted(len(d) for d in done) == [0, 1]
        assert len(await storage.recent_alerts()) == 2
    finally:
        await storage.close()


def test_the_turn_is_free_again_when_its_holder_is_done(tmp_path: Path):
    with inbox_turn(tmp_path) as first:
        assert first
        with inbox_turn(tmp_path) as second:
            assert not second
    with inbox_turn(tmp_path) as third:
        assert third
