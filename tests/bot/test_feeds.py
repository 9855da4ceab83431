"""The feed watcher against real RSS and Atom feeds served by aiohttp on 127.0.0.1: conditional requests,
parsing, keyword matching, backoff and every way a feed can go wrong."""

import asyncio
import socket
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp import web

from bot.feeds import (
    DEFAULT_KEYWORDS,
    FeedItem,
    FeedState,
    FeedWatcher,
    item_key,
    matching,
    news_text,
)

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
RSS_ETAG = '"rss-v1"'
RSS_MODIFIED = "Sat, 31 May 2025 10:00:00 GMT"
ATOM_MODIFIED = "Sat, 31 May 2025 12:00:00 GMT"
LONG = "市场份额与增长。" * 100

RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>云计算观察 Cloud Watch</title>
    <link>https://news.example.cn/</link>
    <description>China cloud market news</description>
    <item>
      <title>IDC:2025 年中国大模型公有云调用量达 536.7 万亿 tokens</title>
      <link>https://news.example.cn/idc-2025-maas</link>
      <guid isPermaLink="false">news-example-1001</guid>
      <pubDate>Fri, 30 May 2025 09:30:00 +0800</pubDate>
      <description><![CDATA[<p>据 <b>IDC</b> 最新报告,火山引擎份额第一 &amp; 阿里云第二。</p>]]></description>
    </item>
    <item>
      <title>Volcano Engine daily Tokens hit 30 trillion</title>
      <link>https://news.example.cn/volcano-tokens</link>
      <guid>https://news.example.cn/volcano-tokens</guid>
      <pubDate>Thu, 29 May 2025 18:00:00 GMT</pubDate>
      <description>ByteDance&#39;s cloud arm says demand keeps doubling.</description>
    </item>
    <item>
      <title>Apple releases new iPhone colours</title>
      <link>https://news.example.cn/apple-iphone</link>
      <description>Nothing to do with clouds.</description>
    </item>
    <item>
      <title>阿里云发布新一代服务器</title>
      <link>https://news.example.cn/aliyun-server</link>
      <description>{LONG}</description>
    </item>
  </channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>AI Infra Weekly</title>
  <id>urn:uuid:6f1a0e8c-feed-4d6b-9d6e-000000000001</id>
  <updated>2025-05-31T12:00:00Z</updated>
  <entry>
    <title>Baidu Qianfan expands its MaaS platform</title>
    <id>tag:infra.example.com,2025:maas-qianfan</id>
    <link href="https://infra.example.com/qianfan-maas"/>
    <updated>2025-05-31T12:00:00Z</updated>
    <summary type="html">&lt;p&gt;New &lt;em&gt;model-as-a-service&lt;/em&gt; tiers.&lt;/p&gt;</summary>
  </entry>
  <entry>
    <title>Market update</title>
    <id>tag:infra.example.com,2025:market-update</id>
    <link href="/market-update"/>
    <updated>2025-05-30T08:00:00Z</updated>
    <summary>百度智能云 maas 平台日均调用量增长三倍</summary>
  </entry>
  <entry>
    <title>Weather in Beijing turns hot</title>
    <id>tag:infra.example.com,2025:weather</id>
    <link href="https://infra.example.com/weather"/>
    <updated>2025-05-29T08:00:00Z</updated>
    <summary>Unrelated.</summary>
  </entry>
</feed>
"""

JUNK = "<!DOCTYPE html><html><head><title>Oops</title></head><body><h1>Login required</h1><div><p>x</body>"


class FeedServer:
    """Routes for every feed behaviour the tests need, recording the headers of each request."""

    def __init__(self):
        self.requests = []
        self.flaky_status = 500
        self.release = asyncio.Event()
        self.base_url = ""
        self.body_path = "/nonexistent"

    def app(self):
        app = web.Application()
        app.add_routes(
            [
                web.get("/rss", self.rss),
                web.get("/atom", self.atom),
                web.get("/flaky", self.flaky),
                web.get("/error", self.server_error),
                web.get("/missing", self.not_found),
                web.get("/junk", self.junk),
                web.get("/path-body", self.path_body),
                web.get("/hang", self.hang),
                web.get("/trickle", self.trickle),
            ]
        )
        return app

    def url(self, path):
        return f"{self.base_url}{path}"

    def record(self, request):
        self.requests.append((request.path, dict(request.headers)))

    async def rss(self, request):
        self.record(request)
        headers = {"ETag": RSS_ETAG, "Last-Modified": RSS_MODIFIED}
        if request.headers.get("If-None-Match") == RSS_ETAG:
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=RSS.encode(), content_type="application/rss+xml", charset="utf-8", headers=headers
        )

    async def atom(self, request):
        self.record(request)
        headers = {"Last-Modified": ATOM_MODIFIED}
        if request.headers.get("If-Modified-Since") == ATOM_MODIFIED:
            return web.Response(status=304, headers=headers)
        return web.Response(body=ATOM.encode(), content_type="application/atom+xml", headers=headers)

    async def flaky(self, request):
        self.record(request)
        if self.flaky_status != 200:
            return web.Response(status=self.flaky_status, text="upstream down")
        return web.Response(body=RSS.encode(), content_type="application/rss+xml", charset="utf-8")

    async def server_error(self, request):
        self.record(request)
        return web.Response(status=500, text="internal error")

    async def not_found(self, request):
        self.record(request)
        return web.Response(status=404, text="no such feed")

    async def junk(self, request):
        self.record(request)
        return web.Response(text=JUNK, content_type="text/html")

    async def path_body(self, request):
        # A body that is also a path on this machine: the watcher must parse it, not open it.
        return web.Response(text=self.body_path, content_type="application/xml")

    async def hang(self, request):
        self.record(request)
        await self.release.wait()
        return web.Response(text="too late")

    async def trickle(self, request):
        """Headers at once, then a byte every 0.1 s: no single read times out, the whole fetch must."""
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        while not self.release.is_set():
            await response.write(b" ")
            await asyncio.sleep(0.1)
        return response


@pytest.fixture
async def server():
    feeds = FeedServer()
    runner = web.AppRunner(feeds.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    feeds.base_url = f"http://127.0.0.1:{port}"
    yield feeds
    feeds.release.set()
    await runner.cleanup()


@pytest.fixture
async def watcher():
    feeds = FeedWatcher(timeout=2.0, interval=900.0)
    yield feeds
    await feeds.aclose()


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_item(title, summary="", key="k"):
    return FeedItem(key=key, url="u", title=title, link="https://x/1", summary=summary, published=None)


# --- fetching and parsing ---


async def test_first_rss_fetch_parses_items_and_saves_validators(server, watcher):
    result = await watcher.fetch(FeedState(server.url("/rss")), NOW)

    assert result.error is None and not result.not_modified
    assert [item.title for item in result.items] == [
        "IDC:2025 年中国大模型公有云调用量达 536.7 万亿 tokens",
        "Volcano Engine daily Tokens hit 30 trillion",
        "Apple releases new iPhone colours",
        "阿里云发布新一代服务器",
    ]
    assert result.state.etag == RSS_ETAG
    assert result.state.last_modified == RSS_MODIFIED
    assert result.state.failures == 0
    assert result.state.next_fetch_at == NOW + timedelta(seconds=900)


async def test_items_carry_feed_url_link_date_and_plain_summary(server, watcher):
    result = await watcher.fetch(FeedState(server.url("/rss")), NOW)
    idc, volcano, apple, aliyun = result.items

    assert idc.url == server.url("/rss")
    assert idc.link == "https://news.example.cn/idc-2025-maas"
    assert idc.summary == "据 IDC 最新报告,火山引擎份额第一 & 阿里云第二。"
    assert idc.published == datetime(2025, 5, 30, 1, 30, tzinfo=UTC)
    assert volcano.summary == "ByteDance's cloud arm says demand keeps doubling."
    assert apple.published is None
    assert len(aliyun.summary) == 500 and aliyun.summary.startswith("市场份额与增长。")


async def test_atom_feed_parses_html_summaries_and_relative_links(server, watcher):
    result = await watcher.fetch(FeedState(server.url("/atom")), NOW)

    assert result.error is None
    qianfan, update, weather = result.items
    assert qianfan.summary == "New model-as-a-service tiers."
    assert qianfan.published == datetime(2025, 5, 31, 12, 0, tzinfo=UTC)
    assert update.link == server.url("/market-update")
    assert weather.title == "Weather in Beijing turns hot"
    assert result.state.etag is None and result.state.last_modified == ATOM_MODIFIED


async def test_second_fetch_sends_if_none_match_and_gets_304_without_items(server, watcher):
    first = await watcher.fetch(FeedState(server.url("/rss")), NOW)
    later = NOW + timedelta(minutes=15)
    second = await watcher.fetch(first.state, later)

    _, headers = server.requests[-1]
    assert headers["If-None-Match"] == RSS_ETAG
    assert headers["If-Modified-Since"] == RSS_MODIFIED
    assert second.not_modified and second.items == () and second.error is None
    assert second.state.etag == RSS_ETAG
    assert second.state.next_fetch_at == later + timedelta(seconds=900)


async def test_first_fetch_sends_no_conditional_headers(server, watcher):
    await watcher.fetch(FeedState(server.url("/rss")), NOW)

    _, headers = server.requests[-1]
    assert "If-None-Match" not in headers and "If-Modified-Since" not in headers


async def test_atom_second_fetch_uses_if_modified_since(server, watcher):
    first = await watcher.fetch(FeedState(server.url("/atom")), NOW)
    second = await watcher.fetch(first.state, NOW)

    assert server.requests[-1][1]["If-Modified-Since"] == ATOM_MODIFIED
    assert "If-None-Match" not in server.requests[-1][1]
    assert second.not_modified and second.items == ()


# --- item keys ---


async def test_item_keys_are_stable_across_fetches_and_distinct_per_item(server, watcher):
    first = await watcher.fetch(FeedState(server.url("/rss")), NOW)
    again = await watcher.fetch(FeedState(server.url("/rss")), NOW)

    keys = [item.key for item in first.items]
    assert keys == [item.key for item in again.items]
    assert len(set(keys)) == len(keys) == 4


async def test_same_entry_in_two_feeds_gets_two_keys(server, watcher):
    rss = await watcher.fetch(FeedState(server.url("/rss")), NOW)
    flaky_url = server.url("/flaky")
    server.flaky_status = 200
    other = await watcher.fetch(FeedState(flaky_url), NOW)

    assert rss.items[0].title == other.items[0].title
    assert rss.items[0].key != other.items[0].key


@pytest.mark.parametrize(
    ("entry", "same_as"),
    [
        ({"id": "a", "link": "https://x/1", "title": "T"}, {"id": "a", "link": "https://x/2", "title": "U"}),
        ({"guid": "g", "link": "https://x/1"}, {"guid": "g", "link": "https://x/9"}),
        ({"link": "https://x/1", "title": "T"}, {"link": "https://x/1", "title": "edited"}),
        ({"title": "only a title"}, {"title": "only a title", "summary": "changed"}),
    ],
)
def test_item_key_prefers_id_then_guid_then_link_then_title(entry, same_as):
    assert item_key("https://feed", entry) == item_key("https://feed", same_as)
    assert len(item_key("https://feed", entry)) == 40


def test_item_key_differs_per_feed_and_per_identity():
    assert item_key("https://a", {"id": "1"}) != item_key("https://b", {"id": "1"})
    assert item_key("https://a", {"id": "1"}) != item_key("https://a", {"id": "2"})


# --- keyword matching ---


async def test_default_keywords_keep_market_news_and_drop_the_rest(server, watcher):
    rss = await watcher.fetch(FeedState(server.url("/rss")), NOW)
    atom = await watcher.fetch(FeedState(server.url("/atom")), NOW)

    found = matching(rss.items + atom.items, DEFAULT_KEYWORDS)

    assert [item.title for item in found] == [
        "IDC:2025 年中国大模型公有云调用量达 536.7 万亿 tokens",
        "Volcano Engine daily Tokens hit 30 trillion",
        "Baidu Qianfan expands its MaaS platform",
        "Market update",
    ]


@pytest.mark.parametrize(
    ("title", "summary", "keywords", "expected"),
    [
        ("2025 年大模型公有云市场报告", "", ["大模型公有云"], True),
        ("市场周报", "日均调用量创新高", ["调用量"], True),
        ("idc says", "", ["IDC"], True),
        ("Daily TOKENS", "", ["tokens"], True),
        ("Qianfan", "a maas platform", ["MaaS"], True),
        ("Apple releases iPhone", "new colours", list(DEFAULT_KEYWORDS), False),
        ("大模型私有化部署", "", ["大模型公有云"], False),
        ("anything", "", [], False),
        ("anything", "", ["", "  "], False),
    ],
)
def test_matching_is_case_insensitive_substring_in_title_or_summary(title, summary, keywords, expected):
    item = make_item(title, summary)
    assert matching([item], keywords) == ([item] if expected else [])


def test_default_keywords_agree_with_the_settings_default():
    from bot.config import DEFAULT_FEED_KEYWORDS

    assert tuple(DEFAULT_FEED_KEYWORDS) == DEFAULT_KEYWORDS


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("zh", "新闻:IDC:调用量 <翻倍>\nhttps://x/1"),
        ("en", "News: IDC:调用量 <翻倍>\nhttps://x/1"),
    ],
)
def test_news_text_is_plain_in_both_languages(lang, expected):
    assert news_text(make_item("IDC:调用量 <翻倍>"), lang) == expected


# --- failures and backoff ---


@pytest.mark.parametrize(("path", "error"), [("/error", "HTTP 500"), ("/missing", "HTTP 404")])
async def test_http_errors_are_reported_not_raised(server, watcher, path, error):
    result = await watcher.fetch(FeedState(server.url(path), etag='"old"'), NOW)

    assert result.error == error
    assert result.items == () and not result.not_modified
    assert result.state.failures == 1 and result.state.etag == '"old"'


async def test_html_junk_is_an_error(server, watcher):
    result = await watcher.fetch(FeedState(server.url("/junk")), NOW)

    assert result.error is not None and result.error.startswith("unparseable feed")
    assert result.items == () and result.state.failures == 1


async def test_a_body_that_names_a_local_file_is_parsed_not_opened(server, watcher, tmp_path):
    # feedparser.parse(b"/some/path") would read that file: a hostile feed could expose local files.
    local = tmp_path / "local.xml"
    local.write_text(RSS, encoding="utf-8")
    server.body_path = str(local)

    result = await watcher.fetch(FeedState(server.url("/path-body")), NOW)

    assert result.error is not None and result.items == ()


async def test_connection_refused_is_an_error(watcher):
    result = await watcher.fetch(FeedState(f"http://127.0.0.1:{closed_port()}/rss"), NOW)

    assert result.error is not None and result.error.startswith("network error")
    assert result.state.failures == 1


async def test_an_invalid_url_is_an_error(watcher):
    result = await watcher.fetch(FeedState("not a url"), NOW)

    assert result.error is not None and result.state.failures == 1


async def test_hanging_server_times_out_quickly(server):
    watcher = FeedWatcher(timeout=0.5)
    try:
        started = time.monotonic()
        result = await watcher.fetch(FeedState(server.url("/hang")), NOW)
        elapsed = time.monotonic() - started
    finally:
        await watcher.aclose()

    assert elapsed < 2
    assert result.error == "timeout after 0.5 s"
    assert result.state.failures == 1


async def test_trickling_body_hits_the_total_deadline(server):
    watcher = FeedWatcher(timeout=0.5)
    try:
        started = time.monotonic()
        result = await watcher.fetch(FeedState(server.url("/trickle")), NOW)
        elapsed = time.monotonic() - started
    finally:
        await watcher.aclose()

    assert elapsed < 2 and result.error == "timeout after 0.5 s"


async def test_failures_back_off_exponentially_up_to_the_cap_and_reset_on_success(server):
    watcher = FeedWatcher(interval=60.0, max_backoff=300.0, timeout=2.0)
    state = FeedState(server.url("/flaky"))
    delays = []
    try:
        for attempt in range(1, 6):
            result = await watcher.fetch(state, NOW)
            state = result.state
            assert result.error == "HTTP 500" and state.failures == attempt
            assert state.next_fetch_at is not None
            delays.append((state.next_fetch_at - NOW).total_seconds())

        server.flaky_status = 200
        recovered = await watcher.fetch(state, NOW)
    finally:
        await watcher.aclose()

    assert delays == [60, 120, 240, 300, 300]
    assert recovered.error is None and len(recovered.items) == 4
    assert recovered.state.failures == 0
    assert recovered.state.next_fetch_at == NOW + timedelta(seconds=60)


async def test_backoff_of_a_long_dead_feed_stays_capped():
    watcher = FeedWatcher(timeout=0.5, interval=900.0)
    try:
        result = await watcher.fetch(FeedState(f"http://127.0.0.1:{closed_port()}/", failures=10_000), NOW)
    finally:
        await watcher.aclose()

    assert result.state.failures == 10_001
    assert result.state.next_fetch_at == NOW + timedelta(hours=6)


# --- scheduling and ownership ---


@pytest.mark.parametrize(
    ("next_fetch_at", "expected"),
    [
        (None, True),
        (NOW - timedelta(seconds=1), True),
        (NOW, True),
        (NOW + timedelta(seconds=1), False),
    ],
)
async def test_due_when_never_fetched_or_the_wait_is_over(watcher, next_fetch_at, expected):
    assert watcher.due(FeedState("https://x", next_fetch_at=next_fetch_at), NOW) is expected


async def test_a_failed_feed_is_not_due_until_its_backoff_ends(server, watcher):
    result = await watcher.fetch(FeedState(server.url("/error")), NOW)

    assert not watcher.due(result.state, NOW + timedelta(seconds=899))
    assert watcher.due(result.state, NOW + timedelta(seconds=900))


async def test_injected_client_is_used_and_left_open(server):
    client = httpx.AsyncClient(headers={"User-Agent": "injected-agent"})
    watcher = FeedWatcher(client=client)

    result = await watcher.fetch(FeedState(server.url("/rss")), NOW)
    await watcher.aclose()

    assert result.error is None
    assert server.requests[-1][1]["User-Agent"] == "injected-agent"
    assert not client.is_closed
    await client.aclose()


async def test_default_client_is_closed_by_aclose():
    watcher = FeedWatcher()
    await watcher.aclose()
    assert watcher.client.is_closed
