"""Watch RSS/Atom feeds for market news: conditional GETs, parsing and exponential backoff, with no storage.

The caller persists each `FeedState` and the keys of items already alerted; a bad feed never raises.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import feedparser
import httpx

DEFAULT_KEYWORDS = ("IDC", "大模型公有云", "tokens", "调用量", "MaaS")
SUMMARY_LIMIT = 500
MAX_FEED_BYTES = 5_000_000
USER_AGENT = "marketbot-feeds/0.1"

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class FeedState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    next_fetch_at: datetime | None = None


@dataclass(frozen=True)
class FeedItem:
    key: str
    url: str
    title: str
    link: str
    summary: str
    published: datetime | None


@dataclass(frozen=True)
class FetchResult:
    state: FeedState
    items: tuple[FeedItem, ...]
    not_modified: bool
    error: str | None


class _FeedError(Exception):
    """A fetch or parse failure; its message becomes `FetchResult.error`."""


class FeedWatcher:
    """Fetches feeds politely: conditional requests, a total deadline per fetch, backoff after failures."""

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        interval: float = 900.0,
        max_backoff: float = 6 * 3600,
    ) -> None:
        # A client we build is ours to close; an injected one belongs to the caller.
        self._owns_client = client is None
        self.client = client or httpx.AsyncClient(
            timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT}
        )
        self.timeout = timeout
        self.interval = interval
        self.max_backoff = max_backoff

    async def fetch(self, state: FeedState, now: datetime) -> FetchResult:
        try:
            response, content = await self._get(state)
            if response.status_code == 304:
                return FetchResult(self._succeeded(state, now), (), not_modified=True, error=None)
            items = _parse(state.url, content, response)
        except _FeedError as exc:
            return FetchResult(self._failed(state, now), (), not_modified=False, error=str(exc))
        new_state = replace(
            self._succeeded(state, now),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
        return FetchResult(new_state, items, not_modified=False, error=None)

    def due(self, state: FeedState, now: datetime) -> bool:
        return state.next_fetch_at is None or now >= state.next_fetch_at

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def _get(self, state: FeedState) -> tuple[httpx.Response, bytes]:
        """One conditional GET under a total deadline (httpx's timeout alone lets a trickling body run on)."""
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        try:
            async with asyncio.timeout(self.timeout):
                request = self.client.build_request("GET", state.url, headers=headers, timeout=self.timeout)
                response = await self.client.send(request, stream=True, follow_redirects=True)
                try:
                    content = await _read_capped(response) if response.status_code == 200 else b""
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise _FeedError(f"timeout after {self.timeout:g} s") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _FeedError(f"network error: {type(exc).__name__}: {exc}") from exc
        if response.status_code not in (200, 304):
            raise _FeedError(f"HTTP {response.status_code}")
        return response, content

    def _succeeded(self, state: FeedState, now: datetime) -> FeedState:
        return replace(state, failures=0, next_fetch_at=now + timedelta(seconds=self.interval))

    def _failed(self, state: FeedState, now: datetime) -> FeedState:
        # The first failure waits one interval, then 2x, 4x, ... up to max_backoff; the exponent is capped
        # so a feed that has been dead for years cannot overflow the float.
        delay = min(self.interval * 2 ** min(state.failures, 40), self.max_backoff)
        return replace(state, failures=state.failures + 1, next_fetch_at=now + timedelta(seconds=delay))


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_FEED_BYTES:
            raise _FeedError(f"feed larger than {MAX_FEED_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(url: str, content: bytes, response: httpx.Response) -> tuple[FeedItem, ...]:
    headers = {key.lower(): value for key, value in response.headers.items()}
    headers["content-location"] = str(response.url)  # base for relative links
    try:
        # A file object, not the bytes: feedparser would treat a body such as b"/etc/passwd" as a path to open.
        parsed = feedparser.parse(io.BytesIO(content), response_headers=headers)
    except Exception as exc:  # feedparser is lenient, but one hostile feed must not stop the others
        raise _FeedError(f"unparseable feed: {type(exc).__name__}: {exc}") from exc
    if not parsed.entries and (parsed.bozo or not parsed.version):
        reason = parsed.get("bozo_exception") or "not an RSS or Atom document"
        raise _FeedError(f"unparseable feed: {reason}")
    return tuple(_item(url, entry) for entry in parsed.entries)


def _item(url: str, entry: Mapping[str, Any]) -> FeedItem:
    return FeedItem(
        key=item_key(url, dict(entry)),
        url=url,
        title=_plain(entry.get("title", "")),
        link=str(entry.get("link", "")),
        summary=_plain(entry.get("summary", ""))[:SUMMARY_LIMIT],
        published=_published(entry),
    )


def _plain(html: str) -> str:
    """Tags removed, entities decoded, whitespace collapsed."""
    return _SPACE.sub(" ", unescape(_TAG.sub(" ", str(html)))).strip()


def _published(entry: Mapping[str, Any]) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)  # feedparser gives a UTC struct_time


def item_key(url: str, entry: dict) -> str:
    """Stable identity of an entry within a feed: feedparser maps RSS <guid> and Atom <id> to `id`."""
    ident = entry.get("id") or entry.get("guid") or entry.get("link") or entry.get("title") or ""
    return hashlib.sha1(f"{url}\n{ident}".encode()).hexdigest()


def matching(items: Iterable[FeedItem], keywords: Sequence[str]) -> list[FeedItem]:
    """Items whose title or summary contains any keyword, case-insensitively (substrings, so Chinese works)."""
    needles = [keyword.casefold() for keyword in keywords if keyword.strip()]
    return [item for item in items if _mentions(f"{item.title}\n{item.summary}".casefold(), needles)]


def _mentions(text: str, needles: Sequence[str]) -> bool:
    return any(needle in text for needle in needles)


def news_text(item: FeedItem, lang: str) -> str:
    """The alert text, plain; the caller escapes it for Telegram."""
    label = "新闻:" if lang == "zh" else "News: "
    return f"{label}{item.title}\n{item.link}"
