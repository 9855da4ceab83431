"""Storage against real databases: a temp SQLite file and a fresh schema on the local PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dbsupport import T0
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot.storage import MIGRATIONS, LeaderRow, ScoreRow, Storage, schema_version_table

BIG_CHAT = -1001234567890


async def make_poll(storage, chat_id=100, closes_at=None, **kwargs):
    fields = dict(metric="tokens", entity="volcengine", period="2025H1", question="How many?", created_by=7)
    fields.update(kwargs)
    return await storage.create_poll(chat_id=chat_id, closes_at=closes_at, **fields)


# -- schema ------------------------------------------------------------------------------------------------


async def test_opening_twice_keeps_one_schema_at_version_one(database, storage):
    again = database.storage()
    await again.open()
    await again.open()  # a second open of the same instance is a no-op
    try:
        assert await again.schema_version() == len(MIGRATIONS)
        async with again.engine.connect() as conn:
            rows = (await conn.execute(select(func.count()).select_from(schema_version_table))).scalar_one()
        assert rows == len(MIGRATIONS)
    finally:
        await again.close()


async def test_sqlite_connections_use_wal_and_enforce_foreign_keys(tmp_path):
    storage = Storage(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    await storage.open()
    try:
        async with storage.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 5000
        with pytest.raises(IntegrityError):
            await storage.upsert_prediction(999, 1, "nobody", 1.0)
    finally:
        await storage.close()


async def test_using_storage_before_open_is_an_error():
    with pytest.raises(RuntimeError, match="not open"):
        await Storage("sqlite+aiosqlite://").get_poll(1)


async def test_naive_datetimes_are_refused(storage):
    with pytest.raises(StatementError, match="naive datetime"):
        await make_poll(storage, closes_at=datetime(2025, 1, 1))


# -- polls -------------------------------------------------------------------------------------------------


async def test_created_poll_reads_back_with_utc_times_and_ranges(storage, clock):
    closes = datetime(2025, 3, 2, 20, 0, tzinfo=UTC)
    ranges = [(None, 10.0), (10.0, 20.5), (20.5, None)]
    poll = await make_poll(storage, closes_at=closes, ranges=ranges)
    assert poll.status == "open" and poll.created_at == T0 and poll.closes_at == closes
    assert poll.ranges == tuple(ranges)
    fetched = await storage.get_poll(poll.id)
    assert fetched == poll
    assert fetched.created_at.tzinfo is not None and fetched.created_at.utcoffset() == timedelta(0)
    assert await storage.get_poll(poll.id + 1000) is None


async def test_aware_non_utc_times_are_stored_as_utc(storage):
    beijing = datetime(2025, 3, 2, 20, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    poll = await make_poll(storage, closes_at=beijing)
    fetched = await storage.get_poll(poll.id)
    assert fetched.closes_at == datetime(2025, 3, 2, 20, 0, tzinfo=UTC)
    assert fetched.closes_at.tzinfo == UTC


async def test_open_polls_are_oldest_first_and_filter_by_chat(storage):
    first = await make_poll(storage, chat_id=1)
    second = await make_poll(storage, chat_id=2)
    third = await make_poll(storage, chat_id=1)
    assert [p.id for p in await storage.open_polls()] == [first.id, second.id, third.id]
    assert [p.id for p in await storage.open_polls(1)] == [first.id, third.id]
    assert await storage.open_polls(3) == []


async def test_closing_a_poll_happens_once(storage):
    poll = await make_poll(storage)
    assert await storage.close_poll(poll.id) is True
    assert await storage.close_poll(poll.id) is False
    assert (await storage.get_poll(poll.id)).status == "closed"
    assert await storage.open_polls() == []


async def test_unresolved_polls_match_the_figure_and_skip_resolved_ones(storage):
    open_poll = await make_poll(storage)
    closed = await make_poll(storage)
    await storage.close_poll(closed.id)
    resolved = await make_poll(storage)
    await storage.claim_resolution(resolved.id, 1.0, "src", [])
    await make_poll(storage, period="2025H2")
    found = await storage.unresolved_polls("tokens", "volcengine", "2025H1")
    assert [p.id for p in found] == [open_poll.id, closed.id]


async def test_native_poll_lookup(storage):
    poll = await make_poll(storage)
    await storage.set_native_poll(poll.id, "5012345678901234567", 2_000_000_001)
    found = await storage.poll_by_native("5012345678901234567")
    assert found.id == poll.id and found.native_message_id == 2_000_000_001
    assert await storage.poll_by_native("nope") is None


# -- predictions -------------------------------------------------------------------------------------------


async def test_a_new_prediction_replaces_the_old_one(storage, clock):
    poll = await make_poll(storage)
    assert await storage.upsert_prediction(poll.id, 5, "Ann", 10.0) is False
    clock.advance(minutes=3)
    assert await storage.upsert_prediction(poll.id, 5, "Ann L.", None, low=1.0, high=2.0) is True
    [prediction] = await storage.predictions(poll.id)
    assert (prediction.user_name, prediction.value, prediction.low, prediction.high) == ("Ann L.", None, 1.0, 2.0)
    assert prediction.predicted_at == T0 + timedelta(minutes=3)


async def test_predictions_are_ordered_by_time_then_user_and_counted(storage, clock):
    poll, other, empty = await make_poll(storage), await make_poll(storage), await make_poll(storage)
    await storage.upsert_prediction(poll.id, 3, "c", 1.0)
    await storage.upsert_prediction(poll.id, 2, "b", 2.0)
    clock.advance(seconds=1)
    await storage.upsert_prediction(poll.id, 1, "a", 3.0)
    await storage.upsert_prediction(other.id, 1, "a", 3.0)
    assert [p.user_id for p in await storage.predictions(poll.id)] == [2, 3, 1]
    assert await storage.predictor_counts([poll.id, other.id, empty.id]) == {poll.id: 3, other.id: 1, empty.id: 0}
    assert await storage.predictor_counts([]) == {}
    await storage.delete_prediction(poll.id, 3)
    assert [p.user_id for p in await storage.predictions(poll.id)] == [2, 1]


async def test_500_users_predicting_at_once_make_500_rows(storage):
    poll = await make_poll(storage)
    replaced = await asyncio.gather(
        *(storage.upsert_prediction(poll.id, user, f"u{user}", float(user)) for user in range(500))
    )
    assert not any(replaced)
    assert await storage.predictor_counts([poll.id]) == {poll.id: 500}
    assert {p.value for p in await storage.predictions(poll.id)} == {float(u) for u in range(500)}


async def test_200_concurrent_revisions_by_one_user_leave_one_row(storage):
    poll = await make_poll(storage)
    replaced = await asyncio.gather(
        *(storage.upsert_prediction(poll.id, 9, "racer", float(v)) for v in range(200))
    )
    assert sorted(replaced) == [False] + [True] * 199
    [prediction] = await storage.predictions(poll.id)
    assert prediction.value in {float(v) for v in range(200)}


# -- resolution and results --------------------------------------------------------------------------------


async def test_two_processes_racing_to_resolve_claim_each_poll_once(database, storage):
    rival = database.storage()
    await rival.open()
    try:
        polls = [await make_poll(storage) for _ in range(10)]
        rows = [ScoreRow(0, 1, "a", 0.1, 1, 1.0), ScoreRow(0, 2, "b", 0.2, 2, 2.0)]
        claims = [
            s.claim_resolution(p.id, 1.0, "src", rows, ("resolved", {"poll": p.id}))
            for p in polls
            for s in (storage, rival)
        ]
        won = await asyncio.gather(*claims)
        assert [won[i] + won[i + 1] for i in range(0, len(won), 2)] == [1] * len(polls)
        for poll in polls:
            assert [s.user_id for s in await rival.scores(poll.id)] == [1, 2]
        assert len(await storage.pending_announcements()) == len(polls)
    finally:
        await rival.close()


async def test_resolution_records_actual_and_refuses_a_second_claim(storage, clock):
    poll = await make_poll(storage)
    await storage.close_poll(poll.id)
    clock.advance(days=2)
    rows = [ScoreRow(poll.id, 2, "b", 0.5, 2, value=3.0), ScoreRow(poll.id, 1, "a", 0.25, 1, low=1.0, high=4.0)]
    assert await storage.claim_resolution(poll.id, 2.0, "report.pdf p.3", rows) is True
    assert await storage.claim_resolution(poll.id, 9.0, "other", rows[:1]) is False
    resolved = await storage.get_poll(poll.id)
    assert (resolved.status, resolved.actual, resolved.actual_source) == ("resolved", 2.0, "report.pdf p.3")
    assert resolved.resolved_at == T0 + timedelta(days=2)
    assert await storage.scores(poll.id) == sorted(rows, key=lambda r: r.rank)


async def test_leaderboard_averages_each_users_scores_over_the_chats_resolved_polls(storage, clock):
    first, second = await make_poll(storage), await make_poll(storage)
    elsewhere = await make_poll(storage, chat_id=200)
    await storage.claim_resolution(
        first.id,
        1.0,
        "s",
        [ScoreRow(0, 1, "alice", 0.25, 1), ScoreRow(0, 2, "bob", 1.0, 2), ScoreRow(0, 3, "carol", 2.0, 3)],
    )
    clock.advance(days=1)
    await storage.claim_resolution(
        second.id,
        1.0,
        "s",
        [ScoreRow(0, 2, "Bobby", 0.5, 1), ScoreRow(0, 4, "dave", 0.5, 1), ScoreRow(0, 1, "alice", 0.75, 3)],
    )
    await storage.claim_resolution(elsewhere.id, 1.0, "s", [ScoreRow(0, 1, "alice", 10.0, 1)])
    assert await storage.leaderboard(100) == [
        LeaderRow(1, "alice", 0.5, 2, 1),  # ties dave on mean; more polls played ranks first
        LeaderRow(4, "dave", 0.5, 1, 1),
        LeaderRow(2, "Bobby", 0.75, 2, 1),  # the latest name
        LeaderRow(3, "carol", 2.0, 1, 3),
    ]
    assert await storage.leaderboard(300) == []


# -- reminders and closing ---------------------------------------------------------------------------------


async def test_reminders_find_polls_closing_in_a_window_and_are_marked_once(storage):
    one = await make_poll(storage, closes_at=T0 + timedelta(hours=1))
    two = await make_poll(storage, closes_at=T0 + timedelta(hours=2))
    await make_poll(storage, closes_at=T0 + timedelta(hours=3))
    await make_poll(storage)
    closed = await make_poll(storage, closes_at=T0 + timedelta(hours=1))
    await storage.close_poll(closed.id)
    window = (T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert [p.id for p in await storage.polls_closing_between(*window)] == [one.id, two.id]
    assert await storage.mark_reminded(one.id) is True
    assert await storage.mark_reminded(one.id) is False
    assert (await storage.get_poll(one.id)).reminded is True
    assert [p.id for p in await storage.polls_closing_between(*window)] == [two.id]


async def test_polls_past_close_are_open_ones_whose_time_has_come(storage):
    one = await make_poll(storage, closes_at=T0 + timedelta(hours=1))
    two = await make_poll(storage, closes_at=T0 + timedelta(hours=2))
    await make_poll(storage, closes_at=T0 + timedelta(hours=3))
    await make_poll(storage)
    now = T0 + timedelta(hours=2)
    assert [p.id for p in await storage.polls_past_close(now)] == [one.id, two.id]
    await storage.close_poll(one.id)
    assert [p.id for p in await storage.polls_past_close(now)] == [two.id]


# -- announcements -----------------------------------------------------------------------------------------


async def test_announcements_stay_pending_until_marked_once(storage):
    ids = [await storage.add_announcement(BIG_CHAT, "resolved", {"poll": n, "text": "火山引擎"}) for n in range(3)]
    pending = await storage.pending_announcements()
    assert [a.id for a in pending] == ids
    assert pending[0].chat_id == BIG_CHAT and pending[0].payload == {"poll": 0, "text": "火山引擎"}
    assert pending[0].kind == "resolved" and pending[0].created_at == T0
    assert [a.id for a in await storage.pending_announcements(limit=2)] == ids[:2]
    assert await storage.mark_announced(ids[1]) is True
    assert await storage.mark_announced(ids[1]) is False
    assert [a.id for a in await storage.pending_announcements()] == [ids[0], ids[2]]


async def test_a_released_announcement_is_pending_again_and_claimed_once_more(storage):
    [first, second] = [await storage.add_announcement(BIG_CHAT, "resolved", {"poll": n}) for n in range(2)]
    assert await storage.mark_announced(first) is True
    assert await storage.release_announcement(first) is True
    assert await storage.release_announcement(second) is False, "only a claimed announcement is released"
    assert [a.id for a in await storage.pending_announcements()] == [first, second]
    assert await storage.mark_announced(first) is True
    assert await storage.mark_announced(first) is False


async def test_racing_claims_of_one_announcement_have_one_winner(storage):
    announcement = await storage.add_announcement(BIG_CHAT, "resolved", {"poll": 1})
    claims = await asyncio.gather(*(storage.mark_announced(announcement) for _ in range(8)))
    assert sorted(claims) == [False] * 7 + [True]


# -- values and restarts -----------------------------------------------------------------------------------


async def test_big_ids_and_values_round_trip_exactly(storage):
    poll = await make_poll(storage, chat_id=BIG_CHAT, created_by=7_000_000_000, ranges=[(1.5e15, 1e18)])
    await storage.upsert_prediction(poll.id, 7_000_000_000, "big", 1.5e15, low=1.234567890123e17, high=1e18)
    await storage.claim_resolution(poll.id, 1.5e15, "s", [ScoreRow(poll.id, 7_000_000_000, "big", 0.0, 1, 1.5e15)])
    fetched = await storage.get_poll(poll.id)
    assert (fetched.chat_id, fetched.created_by, fetched.ranges, fetched.actual) == (
        BIG_CHAT,
        7_000_000_000,
        ((1.5e15, 1e18),),
        1.5e15,
    )
    [prediction] = await storage.predictions(poll.id)
    assert (prediction.value, prediction.low, prediction.high) == (1.5e15, 1.234567890123e17, 1e18)
    assert (await storage.scores(poll.id))[0].value == 1.5e15
    assert [p.id for p in await storage.open_polls(BIG_CHAT)] == []
    assert (await storage.leaderboard(BIG_CHAT))[0].user_id == 7_000_000_000


async def test_a_restart_keeps_everything(database, storage):
    poll = await make_poll(storage, closes_at=T0 + timedelta(hours=1), ranges=[(1.0, 2.0)])
    await storage.set_native_poll(poll.id, "native-1", 55)
    await storage.upsert_prediction(poll.id, 1, "a", 1.5)
    resolved = await make_poll(storage)
    await storage.claim_resolution(resolved.id, 2.0, "s", [ScoreRow(resolved.id, 1, "a", 0.1, 1)])
    announcement = await storage.add_announcement(100, "resolved", {"poll": resolved.id})
    before = (await storage.get_poll(poll.id), await storage.get_poll(resolved.id))
    await storage.close()

    reopened = database.storage()
    await reopened.open()
    try:
        assert (await reopened.get_poll(poll.id), await reopened.get_poll(resolved.id)) == before
        assert (await reopened.poll_by_native("native-1")).id == poll.id
        assert [p.value for p in await reopened.predictions(poll.id)] == [1.5]
        assert [s.score for s in await reopened.scores(resolved.id)] == [0.1]
        assert [a.id for a in await reopened.pending_announcements()] == [announcement]
        assert await reopened.schema_version() == len(MIGRATIONS)
    finally:
        await reopened.close()


async def test_postgres_columns_use_bigint_and_double_precision(database, storage):
    if not database.url.startswith("postgresql"):
        pytest.skip("PostgreSQL column types")
    query = text(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'predictions'"
    )
    async with storage.engine.connect() as conn:
        types = dict((await conn.execute(query)).all())
    assert types["user_id"] == "bigint" and types["value"] == "double precision"
    assert types["predicted_at"] == "timestamp with time zone"
