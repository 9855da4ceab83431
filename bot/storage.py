"""The bot's state in SQLite (WAL, the default) or PostgreSQL: polls, predictions, scores, announcements,
alert subscriptions with their outbox of per-chat deliveries, and the news feeds' state.

One async `Storage` owns the engine and creates or migrates the schema when opened.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    TypeDecorator,
    event,
    func,
    insert,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from bot.feeds import FeedState

PollStatus = Literal["open", "closed", "resolved"]
DeliveryStatus = Literal["pending", "claimed", "sending", "sent", "dropped"]
Range = tuple[float | None, float | None]


@dataclass(frozen=True)
class Poll:
    id: int
    chat_id: int
    metric: str
    entity: str
    period: str
    question: str
    status: PollStatus
    created_by: int
    created_at: datetime
    closes_at: datetime | None
    native_poll_id: str | None
    native_message_id: int | None
    ranges: tuple[Range, ...]
    actual: float | None
    actual_source: str | None
    resolved_at: datetime | None
    reminded: bool


@dataclass(frozen=True)
class Prediction:
    poll_id: int
    user_id: int
    user_name: str
    value: float | None
    low: float | None
    high: float | None
    predicted_at: datetime


@dataclass(frozen=True)
class ScoreRow:
    poll_id: int
    user_id: int
    user_name: str
    score: float
    rank: int
    value: float | None = None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class LeaderRow:
    user_id: int
    user_name: str
    mean_score: float
    polls_played: int
    best_rank: int


@dataclass(frozen=True)
class Announcement:
    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Alert:
    id: int
    kind: str  # "data" or "news"
    key: str
    payload: dict[str, Any]
    topics: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One alert claimed for one chat: send it, then mark_sent or retry_later (or drop_chat)."""

    alert_id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # including the current one
    status: DeliveryStatus


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; SQLite stores (and returns) them naive."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

schema_version_table = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", UTCDateTime(), nullable=False),
)

poll_table = Table(
    "polls",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("metric", String(64), nullable=False),
    Column("entity", String(128), nullable=False),
    Column("period", String(32), nullable=False),
    Column("question", Text, nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Column("created_by", BigInteger, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("closes_at", UTCDateTime()),
    Column("native_poll_id", String(64), unique=True),
    Column("native_message_id", BigInteger),
    Column("ranges", Text, nullable=False, default="[]"),
    Column("actual", Double),
    Column("actual_source", Text),
    Column("resolved_at", UTCDateTime()),
    Column("reminded", Boolean, nullable=False, default=False),
    Index("ix_polls_status_closes_at", "status", "closes_at"),
    Index("ix_polls_subject", "metric", "entity", "period"),
)

prediction_table = Table(
    "predictions",
    metadata,
    Column("poll_id", Integer, ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("user_name", Text, nullable=False),
    Column("value", Double),
    Column("low", Double),
    Column("high", Double),
    Column("predicted_at", UTCDateTime(), nullable=False),
    # 0 for a first prediction, +1 per replacement: lets one upsert statement say whether it replaced.
    Column("revision", Integer, nullable=False, default=0),
)

score_table = Table(
    "scores",
    metadata,
    Column("poll_id", Integer, ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("user_name", Text, nullable=False),
    Column("score", Double, nullable=False),
    Column("rank", Integer, nullable=False),
    Column("value", Double),
    Column("low", Double),
    Column("high", Double),
)

announcement_table = Table(
    "announcements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("announced_at", UTCDateTime()),
    Index("ix_announcements_pending", "announced_at", "id"),
)


subscription_table = Table(
    "subscriptions",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("topic", String(128), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_subscriptions_topic", "topic"),
)

alert_table = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("key", Text, nullable=False, unique=True),
    Column("payload", Text, nullable=False),
    Column("topics", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

delivery_table = Table(
    "deliveries",
    metadata,
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime()),
    Column("lease_until", UTCDateTime()),
    Column("sent_at", UTCDateTime()),
    Column("message_id", BigInteger),
    Column("error", Text),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_chat", "chat_id", "status"),
)

feed_state_table = Table(
    "feed_state",
    metadata,
    Column("url", Text, primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_fetch_at", UTCDateTime()),
)

feed_item_table = Table(
    "feed_items",
    metadata,
    Column("key", Text, primary_key=True),
    Column("url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
)


chat_table = Table(
    "chats",
    metadata,
    Column("chat_id", BigInteger, primary_key=True),
    Column("lang", Text, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)


def _v1_polls(conn: Connection) -> None:
    metadata.create_all(conn, tables=[poll_table, prediction_table, score_table, announcement_table])


def _v2_alerts(conn: Connection) -> None:
    metadata.create_all(
        conn, tables=[subscription_table, alert_table, delivery_table, feed_state_table, feed_item_table]
    )


def _v3_chats(conn: Connection) -> None:
    metadata.create_all(conn, tables=[chat_table])


# Applied in order; version N is MIGRATIONS[N - 1]. Each version builds its (new) tables from the Table
# objects above, so a later migration that adds a column to one of them must first check the column is missing.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1_polls, _v2_alerts, _v3_chats]

INTERRUPTED = "unconfirmed: the process stopped mid-send; not sent again, so nobody gets it twice"

# Deliveries not yet sent or dropped: the ones drop_chat gives up on.
_UNSENT: tuple[DeliveryStatus, ...] = ("pending", "claimed", "sending")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Storage:
    """All reads and writes of the bot's state; usable from one event loop."""

    def __init__(
        self,
        url: str,
        *,
        engine_options: dict[str, Any] | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.url = url
        self.engine_options = dict(engine_options or {})
        self.clock = clock
        self._engine: AsyncEngine | None = None
        # SQLite has one writer at a time: queue this process's writers here rather than in busy_timeout's
        # sleep-and-retry loop, which is left to arbitrate between processes.
        self._sqlite_writer: asyncio.Lock | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and bring the schema up to date; a second call does nothing."""
        if self._engine is not None:
            return
        engine = create_async_engine(self.url, **self.engine_options)
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
            self._sqlite_writer = asyncio.Lock()
        self._engine = engine
        await self._migrate()

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def schema_version(self) -> int:
        async with self._read() as conn:
            return int((await conn.execute(select(func.max(schema_version_table.c.version)))).scalar_one() or 0)

    async def _migrate(self) -> None:
        async with self._write() as conn:
            if conn.dialect.name == "postgresql":  # serialise two processes migrating at once
                await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('marketbot.schema'))"))
            await conn.run_sync(lambda sync: schema_version_table.create(sync, checkfirst=True))
            current = (await conn.execute(select(func.max(schema_version_table.c.version)))).scalar_one() or 0
            if current > len(MIGRATIONS):
                raise RuntimeError(f"database schema is at version {current}; this code knows {len(MIGRATIONS)}")
            for version, migration in enumerate(MIGRATIONS[current:], start=current + 1):
                await conn.run_sync(migration)
                await conn.execute(insert(schema_version_table).values(version=version, applied_at=self.clock()))

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("Storage is not open; await storage.open() first")
        return self._engine

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that holds SQLite's write lock from its start (so it never fails to upgrade)."""
        async with self._sqlite_writer or nullcontext(), self.engine.connect() as conn:
            await conn.execution_options(marketbot_write=True)
            async with conn.begin():
                yield conn

    async def _change_one(self, statement: Any) -> bool:
        """Run one conditional UPDATE (or DELETE); True when it changed exactly one row."""
        async with self._write() as conn:
            return (await conn.execute(statement)).rowcount == 1

    # -- polls -----------------------------------------------------------------------------------------

    async def create_poll(
        self,
        chat_id: int,
        metric: str,
        entity: str,
        period: str,
        question: str,
        created_by: int,
        closes_at: datetime | None,
        ranges: Sequence[Range] = (),
    ) -> Poll:
        values = dict(
            chat_id=chat_id,
            metric=metric,
            entity=entity,
            period=period,
            question=question,
            status="open",
            created_by=created_by,
            created_at=self.clock(),
            closes_at=closes_at,
            ranges=json.dumps([list(r) for r in ranges]),
            reminded=False,
        )
        async with self._write() as conn:
            row = (await conn.execute(insert(poll_table).values(values).returning(*poll_table.c))).one()
        return _poll(row)

    async def set_native_poll(self, poll_id: int, native_poll_id: str, message_id: int) -> None:
        statement = update(poll_table).where(poll_table.c.id == poll_id)
        await self._change_one(statement.values(native_poll_id=native_poll_id, native_message_id=message_id))

    async def get_poll(self, poll_id: int) -> Poll | None:
        found = await self._polls(poll_table.c.id == poll_id)
        return found[0] if found else None

    async def poll_by_native(self, native_poll_id: str) -> Poll | None:
        found = await self._polls(poll_table.c.native_poll_id == native_poll_id)
        return found[0] if found else None

    async def open_polls(self, chat_id: int | None = None) -> list[Poll]:
        """Open polls, oldest first, of one chat or of all."""
        if chat_id is None:
            return await self._polls(poll_table.c.status == "open")
        return await self._polls(poll_table.c.status == "open", poll_table.c.chat_id == chat_id)

    async def unresolved_polls(self, metric: str, entity: str, period: str) -> list[Poll]:
        """Open or closed polls on one figure: the ones a newly published value resolves."""
        return await self._polls(
            poll_table.c.status.in_(("open", "closed")),
            poll_table.c.metric == metric,
            poll_table.c.entity == entity,
            poll_table.c.period == period,
        )

    async def close_poll(self, poll_id: int) -> bool:
        """Open -> closed; False when the poll was not open."""
        statement = update(poll_table).where(poll_table.c.id == poll_id, poll_table.c.status == "open")
        return await self._change_one(statement.values(status="closed"))

    async def claim_resolution(
        self,
        poll_id: int,
        actual: float,
        source: str,
        scores: Sequence[ScoreRow],
        announcement: tuple[str, dict[str, Any]] | None = None,
    ) -> bool:
        """Resolve the poll and store its scores, exactly once even across processes.

        `announcement` (kind, payload), when given, is queued for the poll's chat in the same transaction.
        """
        claim = (
            update(poll_table)
            .where(poll_table.c.id == poll_id, poll_table.c.status != "resolved")
            .values(status="resolved", actual=actual, actual_source=source, resolved_at=self.clock())
            .returning(poll_table.c.chat_id)
        )
        async with self._write() as conn:
            chat_id = (await conn.execute(claim)).scalar_one_or_none()
            if chat_id is None:
                return False
            if scores:
                await conn.execute(insert(score_table), [asdict(s) | {"poll_id": poll_id} for s in scores])
            if announcement is not None:
                await self._insert_announcement(conn, chat_id, *announcement)
        return True

    async def polls_closing_between(self, start: datetime, end: datetime) -> list[Poll]:
        """Open, not yet reminded polls whose closes_at is in [start, end)."""
        return await self._polls(
            poll_table.c.status == "open",
            poll_table.c.reminded.is_(False),
            poll_table.c.closes_at >= start,
            poll_table.c.closes_at < end,
        )

    async def mark_reminded(self, poll_id: int) -> bool:
        """True only the first time, so one reminder is sent even if two jobs race."""
        statement = update(poll_table).where(poll_table.c.id == poll_id, poll_table.c.reminded.is_(False))
        return await self._change_one(statement.values(reminded=True))

    async def polls_past_close(self, now: datetime) -> list[Poll]:
        return await self._polls(poll_table.c.status == "open", poll_table.c.closes_at <= now)

    async def _polls(self, *conditions: Any) -> list[Poll]:
        async with self._read() as conn:
            rows = await conn.execute(select(poll_table).where(*conditions).order_by(poll_table.c.id))
            return [_poll(row) for row in rows]

    # -- predictions -----------------------------------------------------------------------------------

    async def upsert_prediction(
        self,
        poll_id: int,
        user_id: int,
        user_name: str,
        value: float | None,
        low: float | None = None,
        high: float | None = None,
    ) -> bool:
        """Store the user's prediction, replacing theirs if any; True when it replaced one."""
        latest = dict(user_name=user_name, value=value, low=low, high=high, predicted_at=self.clock())
        async with self._write() as conn:
            statement = _dialect_insert(conn)(prediction_table).values(poll_id=poll_id, user_id=user_id, **latest)
            statement = statement.on_conflict_do_update(
                index_elements=[prediction_table.c.poll_id, prediction_table.c.user_id],
                set_=dict(latest, revision=prediction_table.c.revision + 1),
            ).returning(prediction_table.c.revision)
            return bool((await conn.execute(statement)).scalar_one() > 0)

    async def delete_prediction(self, poll_id: int, user_id: int) -> None:
        statement = sql_delete(prediction_table).where(
            prediction_table.c.poll_id == poll_id, prediction_table.c.user_id == user_id
        )
        await self._change_one(statement)

    async def predictions(self, poll_id: int) -> list[Prediction]:
        """The poll's predictions in the order they were made (the latest revision's time counts)."""
        statement = (
            select(*[prediction_table.c[f.name] for f in fields(Prediction)])
            .where(prediction_table.c.poll_id == poll_id)
            .order_by(prediction_table.c.predicted_at, prediction_table.c.user_id)
        )
        async with self._read() as conn:
            return [Prediction(**row._mapping) for row in await conn.execute(statement)]

    async def predictor_counts(self, poll_ids: Sequence[int]) -> dict[int, int]:
        """How many users predicted each poll (0 for polls nobody predicted)."""
        if not poll_ids:
            return {}
        statement = (
            select(prediction_table.c.poll_id, func.count())
            .where(prediction_table.c.poll_id.in_(poll_ids))
            .group_by(prediction_table.c.poll_id)
        )
        async with self._read() as conn:
            counted = {int(poll_id): int(n) for poll_id, n in await conn.execute(statement)}
        return {poll_id: counted.get(poll_id, 0) for poll_id in poll_ids}

    # -- results ---------------------------------------------------------------------------------------

    async def scores(self, poll_id: int) -> list[ScoreRow]:
        statement = (
            select(score_table)
            .where(score_table.c.poll_id == poll_id)
            .order_by(score_table.c.rank, score_table.c.user_id)
        )
        async with self._read() as conn:
            return [ScoreRow(**row._mapping) for row in await conn.execute(statement)]

    async def leaderboard(self, chat_id: int) -> list[LeaderRow]:
        """Everyone scored in the chat's resolved polls: best (lowest) mean score first."""
        statement = (
            select(score_table.c.user_id, score_table.c.user_name, score_table.c.score, score_table.c.rank)
            .join(poll_table, poll_table.c.id == score_table.c.poll_id)
            .where(poll_table.c.chat_id == chat_id, poll_table.c.status == "resolved")
            .order_by(poll_table.c.resolved_at, poll_table.c.id)
        )
        async with self._read() as conn:
            return _leaderboard(await conn.execute(statement))

    # -- announcements ---------------------------------------------------------------------------------

    async def add_announcement(self, chat_id: int, kind: str, payload: dict[str, Any]) -> int:
        async with self._write() as conn:
            return await self._insert_announcement(conn, chat_id, kind, payload)

    async def pending_announcements(self, limit: int = 100) -> list[Announcement]:
        """Announcements not yet marked as sent, oldest first."""
        statement = (
            select(announcement_table)
            .where(announcement_table.c.announced_at.is_(None))
            .order_by(announcement_table.c.id)
        )
        async with self._read() as conn:
            return [_announcement(row) for row in await conn.execute(statement.limit(limit))]

    async def mark_announced(self, announcement_id: int) -> bool:
        """True only the first time: a sender claims an announcement this way before sending it, so of
        several replicas racing for it exactly one sends it."""
        statement = update(announcement_table).where(
            announcement_table.c.id == announcement_id, announcement_table.c.announced_at.is_(None)
        )
        return await self._change_one(statement.values(announced_at=self.clock()))

    async def release_announcement(self, announcement_id: int) -> bool:
        """Put a claimed announcement back in the queue (its send failed and is worth another try)."""
        statement = update(announcement_table).where(
            announcement_table.c.id == announcement_id, announcement_table.c.announced_at.is_not(None)
        )
        return await self._change_one(statement.values(announced_at=None))

    async def _insert_announcement(
        self, conn: AsyncConnection, chat_id: int, kind: str, payload: dict[str, Any]
    ) -> int:
        values = dict(chat_id=chat_id, kind=kind, payload=json.dumps(payload), created_at=self.clock())
        result = await conn.execute(insert(announcement_table).values(values).returning(announcement_table.c.id))
        return int(result.scalar_one())

    # -- subscriptions ---------------------------------------------------------------------------------

    async def subscribe(self, chat_id: int, topic: str) -> bool:
        """True when the chat was not yet subscribed to the topic."""
        async with self._write() as conn:
            statement = _dialect_insert(conn)(subscription_table).values(
                chat_id=chat_id, topic=topic, created_at=self.clock()
            )
            return (await conn.execute(statement.on_conflict_do_nothing())).rowcount == 1

    async def unsubscribe(self, chat_id: int, topic: str | None = None) -> int:
        """Remove one subscription (or, with topic None, all the chat's); returns how many were removed."""
        statement = sql_delete(subscription_table).where(subscription_table.c.chat_id == chat_id)
        if topic is not None:
            statement = statement.where(subscription_table.c.topic == topic)
        async with self._write() as conn:
            return int((await conn.execute(statement)).rowcount)

    async def set_chat_lang(self, chat_id: int, lang: str) -> None:
        """The language pushed messages to this chat are written in (the last subscriber's)."""
        values = {"chat_id": chat_id, "lang": lang, "updated_at": self.clock()}
        async with self._write() as conn:
            statement = _dialect_insert(conn)(chat_table).values(**values)
            await conn.execute(statement.on_conflict_do_update(index_elements=["chat_id"], set_=values))

    async def chat_lang(self, chat_id: int, default: str = "zh") -> str:
        async with self._read() as conn:
            found = (await conn.execute(select(chat_table.c.lang).where(chat_table.c.chat_id == chat_id))).scalar()
        return str(found) if found else default

    async def subscriptions(self, chat_id: int) -> list[str]:
        statement = (
            select(subscription_table.c.topic)
            .where(subscription_table.c.chat_id == chat_id)
            .order_by(subscription_table.c.topic)
        )
        async with self._read() as conn:
            return list((await conn.execute(statement)).scalars())

    async def subscribers(self, topics: Sequence[str]) -> list[int]:
        """The chats subscribed to any of the topics, each once, sorted."""
        if not topics:
            return []
        async with self._read() as conn:
            return [int(chat) for chat in (await conn.execute(_subscribers_query(topics))).scalars()]

    # -- alerts and their deliveries -------------------------------------------------------------------

    async def add_alert(self, kind: str, key: str, payload: dict[str, Any], topics: Sequence[str]) -> int | None:
        """Queue an alert for every chat subscribed now to any of its topics; returns its id.

        None, changing nothing, when an alert with this key exists (re-ingesting the same data alerts
        nobody). The alert and its deliveries are written in one transaction.
        """
        unique_topics = list(dict.fromkeys(topics))
        values = dict(
            kind=kind,
            key=key,
            payload=json.dumps(payload, ensure_ascii=False),
            topics=json.dumps(unique_topics, ensure_ascii=False),
            created_at=self.clock(),
        )
        async with self._write() as conn:
            statement = _dialect_insert(conn)(alert_table).values(values).on_conflict_do_nothing()
            alert_id = (await conn.execute(statement.returning(alert_table.c.id))).scalar_one_or_none()
            if alert_id is None:
                return None
            if unique_topics:
                chats = _subscribers_query(unique_topics).subquery()
                fan_out = insert(delivery_table).from_select(
                    ["alert_id", "chat_id", "status", "attempts"],
                    select(
                        literal_column(str(int(alert_id))),
                        chats.c.chat_id,
                        literal_column("'pending'"),
                        literal_column("0"),
                    ),
                )
                await conn.execute(fan_out)
        return int(alert_id)

    async def get_alert(self, alert_id: int) -> Alert | None:
        async with self._read() as conn:
            row = (await conn.execute(select(alert_table).where(alert_table.c.id == alert_id))).one_or_none()
        return None if row is None else _alert(row)

    async def recent_alerts(self, limit: int = 10) -> list[Alert]:
        """The latest alerts, newest first."""
        statement = select(alert_table).order_by(alert_table.c.id.desc()).limit(limit)
        async with self._read() as conn:
            return [_alert(row) for row in await conn.execute(statement)]

    async def claim_deliveries(
        self, now: datetime, limit: int = 50, lease: timedelta = timedelta(seconds=60)
    ) -> list[Delivery]:
        """Take up to `limit` due deliveries, oldest alert first, for this worker to send.

        Due: `pending` with next_attempt_at unset or <= now, or `claimed` with an expired lease (the worker
        that claimed it died before trying to send it). Each becomes `claimed` until now + lease with one
        more attempt. `sending` is never reclaimed: see `begin_send` and `settle_interrupted`.
        No two workers ever hold the same delivery: PostgreSQL skips rows another claim has locked,
        and SQLite runs one write transaction at a time.
        """
        d = delivery_table
        due = ((d.c.status == "pending") & (d.c.next_attempt_at.is_(None) | (d.c.next_attempt_at <= now))) | (
            (d.c.status == "claimed") & (d.c.lease_until <= now)
        )
        query = (
            select(d.c.alert_id, d.c.chat_id, d.c.attempts, alert_table.c.kind, alert_table.c.payload)
            .join(alert_table, alert_table.c.id == d.c.alert_id)
            .where(due)
            .order_by(d.c.alert_id, d.c.chat_id)
            .limit(limit)
        )
        async with self._write() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=d)
            rows = (await conn.execute(query)).all()
            if not rows:
                return []
            claim = (
                update(d)
                .where(tuple_(d.c.alert_id, d.c.chat_id).in_([(row.alert_id, row.chat_id) for row in rows]))
                .values(status="claimed", lease_until=now + lease, attempts=d.c.attempts + 1)
            )
            await conn.execute(claim)
        return [
            Delivery(
                alert_id=row.alert_id,
                chat_id=row.chat_id,
                kind=row.kind,
                payload=json.loads(row.payload),
                attempts=row.attempts + 1,
                status="claimed",
            )
            for row in rows
        ]

    async def begin_send(self, alert_id: int, chat_id: int) -> bool:
        """`claimed` -> `sending`, committed just before the message goes to Telegram; False if the claim
        was lost (its lease expired and another worker took it)."""
        statement = update(delivery_table).where(
            *_delivery(alert_id, chat_id), delivery_table.c.status == "claimed"
        )
        return await self._change_one(statement.values(status="sending"))

    async def mark_sent(self, alert_id: int, chat_id: int, message_id: int | None) -> bool:
        """`sending` (or `claimed`) -> `sent`; True only the first time."""
        statement = update(delivery_table).where(
            *_delivery(alert_id, chat_id), delivery_table.c.status.in_(("claimed", "sending"))
        )
        return await self._change_one(
            statement.values(
                status="sent", sent_at=self.clock(), message_id=message_id, lease_until=None, error=None
            )
        )

    async def retry_later(self, alert_id: int, chat_id: int, at: datetime, error: str) -> None:
        """Put a claimed delivery back to `pending`, due again at `at`; sent or dropped ones stay so."""
        statement = update(delivery_table).where(
            *_delivery(alert_id, chat_id), delivery_table.c.status.in_(("claimed", "sending"))
        )
        await self._change_one(
            statement.values(status="pending", next_attempt_at=at, lease_until=None, error=error)
        )

    async def settle_interrupted(self, now: datetime) -> int:
        """Sends cut off by a crash (`sending` past its lease) count as sent, unconfirmed: Telegram may
        well have delivered them, and sending again could give a chat the same alert twice."""
        statement = (
            update(delivery_table)
            .where(delivery_table.c.status == "sending", delivery_table.c.lease_until <= now)
            .values(status="sent", sent_at=now, lease_until=None, error=INTERRUPTED)
        )
        async with self._write() as conn:
            return int((await conn.execute(statement)).rowcount)

    async def drop_chat(self, chat_id: int, error: str) -> int:
        """The chat blocked the bot or is gone: unsubscribe it and drop its unsent deliveries (returned count).

        Already sent deliveries stay `sent`.
        """
        unsubscribe = sql_delete(subscription_table).where(subscription_table.c.chat_id == chat_id)
        drop = (
            update(delivery_table)
            .where(delivery_table.c.chat_id == chat_id, delivery_table.c.status.in_(_UNSENT))
            .values(status="dropped", lease_until=None, error=error)
        )
        async with self._write() as conn:
            await conn.execute(unsubscribe)
            return int((await conn.execute(drop)).rowcount)

    async def delivery_counts(self, alert_id: int) -> dict[str, int]:
        """How many of the alert's deliveries are in each status (statuses with none are left out)."""
        statement = (
            select(delivery_table.c.status, func.count())
            .where(delivery_table.c.alert_id == alert_id)
            .group_by(delivery_table.c.status)
        )
        async with self._read() as conn:
            return {str(status): int(n) for status, n in await conn.execute(statement)}

    async def sent_count(self, alert_id: int, chat_id: int) -> int:
        """1 when the alert was sent to the chat, else 0."""
        statement = (
            select(func.count())
            .select_from(delivery_table)
            .where(*_delivery(alert_id, chat_id), delivery_table.c.status == "sent")
        )
        async with self._read() as conn:
            return int((await conn.execute(statement)).scalar_one())

    # -- news feeds ------------------------------------------------------------------------------------

    async def feed_state(self, url: str) -> FeedState | None:
        statement = select(*[feed_state_table.c[f.name] for f in fields(FeedState)]).where(
            feed_state_table.c.url == url
        )
        async with self._read() as conn:
            row = (await conn.execute(statement)).one_or_none()
        return None if row is None else FeedState(**row._mapping)

    async def save_feed_state(self, state: FeedState) -> None:
        values = asdict(state)
        async with self._write() as conn:
            statement = _dialect_insert(conn)(feed_state_table).values(values)
            statement = statement.on_conflict_do_update(
                index_elements=[feed_state_table.c.url], set_={k: v for k, v in values.items() if k != "url"}
            )
            await conn.execute(statement)

    async def remember_feed_item(self, key: str, url: str, title: str, link: str) -> bool:
        """True the first time ever this item key is seen."""
        values = dict(key=key, url=url, title=title, link=link, first_seen=self.clock())
        async with self._write() as conn:
            statement = _dialect_insert(conn)(feed_item_table).values(values).on_conflict_do_nothing()
            return (await conn.execute(statement)).rowcount == 1


# -- helpers -------------------------------------------------------------------------------------------


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, a busy timeout and foreign keys on every connection; transactions begun by us, not pysqlite."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # synchronous=NORMAL is SQLite's advice for WAL: never corrupts; only a power loss (not a crash
        # of the process) can undo the last commits.
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front (waiting up to busy_timeout); a deferred transaction
        # that reads and then writes can fail with SQLITE_BUSY when another writer got in between.
        immediate = conn.get_execution_options().get("marketbot_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _dialect_insert(conn: AsyncConnection) -> Any:
    """The dialect's INSERT, which has on_conflict_do_update (SQLite and PostgreSQL spell it alike)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _subscribers_query(topics: Sequence[str]) -> Any:
    return (
        select(subscription_table.c.chat_id)
        .where(subscription_table.c.topic.in_(list(topics)))
        .distinct()
        .order_by(subscription_table.c.chat_id)
    )


def _delivery(alert_id: int, chat_id: int) -> tuple[Any, Any]:
    return delivery_table.c.alert_id == alert_id, delivery_table.c.chat_id == chat_id


def _alert(row: Row[Any]) -> Alert:
    return Alert(
        id=row.id,
        kind=row.kind,
        key=row.key,
        payload=json.loads(row.payload),
        topics=tuple(json.loads(row.topics)),
        created_at=row.created_at,
    )


def _poll(row: Row[Any]) -> Poll:
    values = dict(row._mapping)
    values["ranges"] = tuple((low, high) for low, high in json.loads(values["ranges"]))
    values["reminded"] = bool(values["reminded"])
    return Poll(**values)


def _announcement(row: Row[Any]) -> Announcement:
    return Announcement(
        id=row.id, chat_id=row.chat_id, kind=row.kind, payload=json.loads(row.payload), created_at=row.created_at
    )


def _leaderboard(rows: Any) -> list[LeaderRow]:
    """Aggregate (user_id, user_name, score, rank) rows, oldest first, into the ordered leaderboard."""
    names: dict[int, str] = {}
    played: dict[int, list[tuple[float, int]]] = {}
    for user_id, user_name, score, rank in rows:
        names[user_id] = user_name  # rows come oldest first, so the last name seen is the latest
        played.setdefault(user_id, []).append((score, rank))
    board = [
        LeaderRow(
            user_id=user_id,
            user_name=names[user_id],
            mean_score=sum(score for score, _ in results) / len(results),
            polls_played=len(results),
            best_rank=min(rank for _, rank in results),
        )
        for user_id, results in played.items()
    ]
    # Equal means: more polls played first, then the better mean rank (each poll's ranking already broke
    # its own ties by prediction time), so the board never contradicts a ranking it was built from.
    mean_rank = {user_id: sum(rank for _, rank in results) / len(results) for user_id, results in played.items()}
    return sorted(board, key=lambda r: (r.mean_score, -r.polls_played, mean_rank[r.user_id], r.user_id))
