"""Alert subscriptions, the delivery outbox and feed state, against a temp SQLite file and a fresh schema
on the local PostgreSQL (skipped when unreachable unless MARKETBOT_REQUIRE_POSTGRES=1, as in test_storage)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from dbsupport import T0

import bot.storage as storage_module
from bot.storage import Alert, Delivery, FeedState, Storage

BIG_CHAT = -1001234567890
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def rival(database, clock):
    """A second Storage on the same database: another worker (or process)."""
    rival = database.storage(clock)
    await rival.open()
    yield rival
    await rival.close()


async def alert_for(storage, key, topics=("market",), kind="data", payload=None):
    return await storage.add_alert(kind, key, payload if payload is not None else {"key": key}, topics)


# -- subscriptions -----------------------------------------------------------------------------------------


async def test_subscriptions_are_per_chat_and_topic(storage):
    assert await storage.subscribe(1, "volcengine") is True
    assert await storage.subscribe(1, "volcengine") is False
    assert await storage.subscribe(1, "aliyun") is True
    assert await storage.subscribe(BIG_CHAT, "aliyun") is True
    assert await storage.subscribe(3, "market") is True
    assert await storage.subscriptions(1) == ["aliyun", "volcengine"]
    assert await storage.subscriptions(99) == []

    assert await storage.subscribers(["aliyun", "volcengine"]) == [BIG_CHAT, 1]  # chat 1 once
    assert await storage.subscribers(["market"]) == [3]
    assert await storage.subscribers(["nobody"]) == []
    assert await storage.subscribers([]) == []

    assert await storage.unsubscribe(1, "volcengine") == 1
    assert await storage.unsubscribe(1, "volcengine") == 0
    assert await storage.subscribe(1, "market") is True
    assert await storage.unsubscribe(1) == 2
    assert await storage.subscriptions(1) == []
    assert await storage.subscribers(["aliyun", "market", "volcengine"]) == [BIG_CHAT, 3]


async def test_concurrent_subscribes_to_one_topic_report_new_once(storage, rival):
    results = await asyncio.gather(*(s.subscribe(7, "market") for _ in range(10) for s in (storage, rival)))
    assert sorted(results) == [False] * 19 + [True]
    assert await storage.subscriptions(7) == ["market"]


# -- the outbox --------------------------------------------------------------------------------------------


async def test_an_alert_fans_out_to_the_chats_subscribed_at_that_moment(storage, clock):
    await storage.subscribe(1, "volcengine")
    await storage.subscribe(1, "market")  # two matching topics, still one delivery
    await storage.subscribe(2, "market")
    await storage.subscribe(3, "aliyun")
    await storage.subscribe(4, "market")
    await storage.unsubscribe(4)
    payload = {"text": "火山引擎 tokens up", "values": [1.5e15, None]}
    alert_id = await storage.add_alert("data", "tokens/volcengine/2025H1", payload, ["volcengine", "market"])
    assert alert_id is not None
    assert await storage.delivery_counts(alert_id) == {"pending": 2}

    assert await storage.get_alert(alert_id) == Alert(
        alert_id, "data", "tokens/volcengine/2025H1", payload, ("volcengine", "market"), T0
    )
    assert await storage.get_alert(alert_id + 100) is None

    await storage.subscribe(5, "market")  # too late for this alert
    claimed = await storage.claim_deliveries(T0)
    assert claimed == [
        Delivery(alert_id, 1, "data", payload, 1, "claimed"),
        Delivery(alert_id, 2, "data", payload, 1, "claimed"),
    ]


async def test_an_alert_is_added_once_per_key(storage, clock):
    await storage.subscribe(1, "market")
    first = await alert_for(storage, "k1")
    await storage.subscribe(2, "market")
    clock.advance(hours=1)
    assert await alert_for(storage, "k1", payload={"changed": True}) is None
    assert await storage.delivery_counts(first) == {"pending": 1}  # the new subscriber gained nothing
    alert = await storage.get_alert(first)
    assert alert.payload == {"key": "k1"} and alert.created_at == T0
    assert [a.id for a in await storage.recent_alerts()] == [first]

    racing = await asyncio.gather(*(alert_for(storage, "k2") for _ in range(5)))
    assert len([r for r in racing if r is not None]) == 1
    assert await storage.delivery_counts(next(r for r in racing if r is not None)) == {"pending": 2}


async def test_an_alert_nobody_follows_is_stored_without_deliveries(storage):
    lonely = await alert_for(storage, "lonely", topics=("nobody",))
    untopical = await alert_for(storage, "untopical", topics=())
    assert lonely is not None and untopical is not None
    assert await storage.delivery_counts(lonely) == {}
    assert [a.key for a in await storage.recent_alerts()] == ["untopical", "lonely"]
    assert await storage.claim_deliveries(T0) == []


async def test_a_claim_leases_deliveries_oldest_alert_first(storage):
    for chat in (3, 1, 2):
        await storage.subscribe(chat, "market")
    first, second = await alert_for(storage, "a"), await alert_for(storage, "b")
    claimed = await storage.claim_deliveries(T0, limit=4, lease=timedelta(seconds=30))
    assert [(d.alert_id, d.chat_id) for d in claimed] == [(first, 1), (first, 2), (first, 3), (second, 1)]
    assert {(d.status, d.attempts) for d in claimed} == {("claimed", 1)}
    assert await storage.delivery_counts(first) == {"claimed": 3}
    assert await storage.delivery_counts(second) == {"pending": 2, "claimed": 1}

    # still leased: only the two unclaimed ones are due
    rest = await storage.claim_deliveries(T0 + timedelta(seconds=29))
    assert [(d.alert_id, d.chat_id) for d in rest] == [(second, 2), (second, 3)]
    assert await storage.claim_deliveries(T0 + timedelta(seconds=29)) == []


async def test_a_delivery_is_marked_sent_once(storage):
    await storage.subscribe(BIG_CHAT, "market")
    alert_id = await alert_for(storage, "a")
    assert await storage.mark_sent(alert_id, BIG_CHAT, 1) is False  # not claimed yet
    assert len(await storage.claim_deliveries(T0)) == 1
    assert await storage.sent_count(alert_id, BIG_CHAT) == 0
    assert await storage.mark_sent(alert_id, BIG_CHAT, 2_000_000_001) is True
    assert await storage.mark_sent(alert_id, BIG_CHAT, 2_000_000_002) is False
    assert await storage.sent_count(alert_id, BIG_CHAT) == 1
    assert await storage.delivery_counts(alert_id) == {"sent": 1}
    assert await storage.claim_deliveries(T0 + timedelta(days=1)) == []  # sent ones are never due again
    assert await storage.sent_count(alert_id, 12345) == 0


async def test_a_delivery_whose_worker_died_is_claimed_again_after_its_lease(storage, rival):
    await storage.subscribe(1, "market")
    alert_id = await alert_for(storage, "a")
    [first] = await storage.claim_deliveries(T0, lease=timedelta(seconds=60))
    assert first.attempts == 1
    assert await rival.claim_deliveries(T0 + timedelta(seconds=59)) == []
    [again] = await rival.claim_deliveries(T0 + timedelta(seconds=60))  # the first worker died
    assert (again.alert_id, again.chat_id, again.attempts, again.status) == (alert_id, 1, 2, "claimed")
    assert await rival.claim_deliveries(T0 + timedelta(seconds=90)) == []  # newly leased until +120 s
    assert await rival.mark_sent(alert_id, 1, 10) is True
    assert await storage.mark_sent(alert_id, 1, 11) is False
    assert await storage.sent_count(alert_id, 1) == 1


async def test_two_workers_claiming_at_once_take_each_delivery_exactly_once(storage, rival):
    chats = range(1, 51)
    await asyncio.gather(*(storage.subscribe(chat, "market") for chat in chats))
    alerts = [await alert_for(storage, f"k{n}") for n in range(4)]  # 4 x 50 = 200 deliveries

    async def worker(store: Storage) -> list[tuple[int, int]]:
        taken: list[tuple[int, int]] = []
        while batch := await store.claim_deliveries(T0, limit=7):
            taken += [(d.alert_id, d.chat_id) for d in batch]
            await asyncio.sleep(0)
        return taken

    results = await asyncio.gather(*(worker(s) for s in (storage, rival) for _ in range(3)))
    claimed = [key for taken in results for key in taken]
    assert len(claimed) == 200
    assert set(claimed) == {(a, c) for a in alerts for c in chats}
    for alert_id in alerts:
        assert await storage.delivery_counts(alert_id) == {"claimed": 50}


async def test_retry_later_waits_until_the_next_attempt_time(storage):
    await storage.subscribe(1, "market")
    alert_id = await alert_for(storage, "a")
    await storage.claim_deliveries(T0)
    await storage.retry_later(alert_id, 1, T0 + 5 * MINUTE, "RetryAfter 300")
    assert await storage.delivery_counts(alert_id) == {"pending": 1}
    assert await storage.claim_deliveries(T0 + 5 * MINUTE - timedelta(seconds=1)) == []
    [delivery] = await storage.claim_deliveries(T0 + 5 * MINUTE)
    assert delivery.attempts == 2
    assert await storage.mark_sent(alert_id, 1, 5) is True
    await storage.retry_later(alert_id, 1, T0, "late")  # a sent delivery stays sent
    assert await storage.delivery_counts(alert_id) == {"sent": 1}
    assert await storage.claim_deliveries(T0 + timedelta(days=1)) == []


async def test_dropping_a_chat_unsubscribes_it_and_drops_only_its_unsent_deliveries(storage):
    for topic in ("market", "volcengine"):
        await storage.subscribe(1, topic)
    await storage.subscribe(2, "market")
    sent = await alert_for(storage, "sent")
    claimed = await alert_for(storage, "claimed")
    await storage.claim_deliveries(T0, limit=4)  # (sent, 1), (sent, 2), (claimed, 1), (claimed, 2)
    await storage.mark_sent(sent, 1, 100)
    pending = await alert_for(storage, "pending")

    assert await storage.drop_chat(1, "Forbidden: bot was blocked by the user") == 2
    assert await storage.subscriptions(1) == []
    assert await storage.subscribers(["market", "volcengine"]) == [2]
    assert await storage.delivery_counts(sent) == {"sent": 1, "claimed": 1}
    assert await storage.delivery_counts(claimed) == {"dropped": 1, "claimed": 1}
    assert await storage.delivery_counts(pending) == {"dropped": 1, "pending": 1}
    assert await storage.sent_count(sent, 1) == 1
    assert await storage.mark_sent(claimed, 1, 101) is False  # an in-flight send finishing late
    assert [(d.alert_id, d.chat_id) for d in await storage.claim_deliveries(T0 + timedelta(days=1))] == [
        (sent, 2),
        (claimed, 2),
        (pending, 2),
    ]
    assert await storage.drop_chat(1, "again") == 0


# -- feeds -------------------------------------------------------------------------------------------------


async def test_feed_state_round_trips_and_is_replaced(storage):
    url = "https://example.com/feed.xml"
    assert await storage.feed_state(url) is None
    state = FeedState(url, etag='W/"abc"', last_modified="Sat, 01 Mar 2025 12:00:00 GMT", next_fetch_at=T0)
    await storage.save_feed_state(state)
    assert await storage.feed_state(url) == state
    later = FeedState(url, etag=None, last_modified=None, failures=3, next_fetch_at=T0 + timedelta(hours=2))
    await storage.save_feed_state(later)
    fetched = await storage.feed_state(url)
    assert fetched == later and fetched.next_fetch_at.tzinfo is not None
    assert await storage.feed_state("https://example.com/other") is None


async def test_a_feed_item_is_new_only_the_first_time(storage, rival):
    assert await storage.remember_feed_item("guid-1", "https://f/1", "火山引擎发布", "https://n/1") is True
    assert await storage.remember_feed_item("guid-1", "https://f/2", "again", "https://n/1") is False
    racing = await asyncio.gather(*(s.remember_feed_item("guid-2", "u", "t", "l") for s in (storage, rival) * 3))
    assert sorted(racing) == [False] * 5 + [True]


# -- schema ------------------------------------------------------------------------------------------------


async def test_a_version_one_database_migrates_to_the_latest_keeping_its_polls(database, monkeypatch):
    monkeypatch.setattr(storage_module, "MIGRATIONS", storage_module.MIGRATIONS[:1])
    old = database.storage()
    await old.open()
    try:
        assert await old.schema_version() == 1
        poll = await old.create_poll(100, "tokens", "volcengine", "2025H1", "How many?", 7, T0, [(1.0, 2.0)])
        await old.upsert_prediction(poll.id, 1, "a", 1.5)
    finally:
        await old.close()
    monkeypatch.undo()

    new = database.storage()
    await new.open()
    try:
        assert await new.schema_version() == len(storage_module.MIGRATIONS)
        assert await new.get_poll(poll.id) == poll
        assert [p.value for p in await new.predictions(poll.id)] == [1.5]
        await new.subscribe(1, "market")
        assert await new.delivery_counts(await alert_for(new, "a")) == {"pending": 1}
    finally:
        await new.close()

    again = database.storage()  # a third open finds nothing left to do
    await again.open()
    try:
        assert await again.schema_version() == len(storage_module.MIGRATIONS)
        assert await again.subscriptions(1) == ["market"]
    finally:
        await again.close()


async def test_a_send_cut_off_by_a_crash_is_settled_as_sent_never_sent_again(storage, clock):
    await storage.subscribe(1, "market")
    await storage.subscribe(2, "market")
    alert_id = await alert_for(storage, "crash")
    first, _untried = await storage.claim_deliveries(T0, lease=MINUTE)
    assert await storage.begin_send(first.alert_id, first.chat_id) is True
    # the process dies here: chat 1 may or may not have the message; chat 2 was never tried
    later = T0 + 2 * MINUTE
    assert await storage.settle_interrupted(later) == 1
    [retry] = await storage.claim_deliveries(later)
    assert (retry.chat_id, retry.attempts) == (2, 2)
    assert await storage.delivery_counts(alert_id) == {"sent": 1, "claimed": 1}


async def test_begin_send_fails_once_the_claim_was_lost(storage, rival):
    await storage.subscribe(1, "market")
    await alert_for(storage, "lost")
    [mine] = await storage.claim_deliveries(T0, lease=MINUTE)
    [theirs] = await rival.claim_deliveries(T0 + 2 * MINUTE, lease=MINUTE)
    assert await rival.begin_send(theirs.alert_id, theirs.chat_id) is True
    assert await storage.begin_send(mine.alert_id, mine.chat_id) is False
