"""A Bot API-compatible HTTP server on 127.0.0.1 for end-to-end tests of the bot.

Point a real `telegram.Bot` or `Application` at `server.base_url` / `server.file_url`, push updates, and
assert on the recorded calls; faults (429, 403, 500, slow methods) can be injected per method and chat.

    async with BotApiServer() as server:
        app = server.application_builder().build()  # or ApplicationBuilder().base_url(server.base_url)...
        ...  # add handlers, app.start(), app.updater.start_polling(timeout=0.2, poll_interval=0)
        server.push_message(42, "/start")
        [call] = await server.wait_for("sendMessage", chat_id=42)
        assert call.result["text"] == ...

What it emulates, like Telegram: long-polling `getUpdates` with `offset` confirmation, per-chat message ids,
HTML `parse_mode` turned into plain text + entities (unsupported tags are a 400 "can't parse entities"),
the 4096/1024 text/caption limits, "message is not modified" on identical edits, reply-to lookups,
`getUpdates` conflicting with a set webhook, and webhook delivery: once `setWebhook` is called, pending
updates are POSTed to its URL (JSON, with the `X-Telegram-Bot-Api-Secret-Token` header when a secret was
set) by up to `max_connections` workers, and an update the endpoint does not answer with 2xx is retried.
Unlike Telegram, plain-HTTP webhook URLs are accepted (they are all on 127.0.0.1 here).
Markdown parse modes are not parsed (text is kept as sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import html.parser
import itertools
import json
import mimetypes
import re
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from telegram import Bot
from telegram.ext import ApplicationBuilder
from telegram.request import HTTPXRequest


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


DEFAULT_TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz12345"
BOT_USERNAME = "marketbot_test_bot"
BOT_FIRST_NAME = "marketbot"
DEFAULT_USER_ID = 1001
MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
# Form fields whose value is a plain string even when it looks like JSON ("123" as a message text).
_STRING_FIELDS = frozenset(
    _words(
        "text caption question parse_mode caption_parse_mode question_parse_mode explanation "
        "explanation_parse_mode callback_query_id url language_code action emoji title description "
        "short_description name file_id inline_message_id secret_token ip_address business_connection_id "
        "message_effect_id photo document custom_title"
    )
)
_UPDATE_TYPES = _words(
    "message edited_message channel_post edited_channel_post callback_query inline_query "
    "chosen_inline_result poll poll_answer my_chat_member chat_member chat_join_request message_reaction "
    "message_reaction_count"
)


class ApiError(Exception):
    """An error answer of the Bot API: `{"ok": false, "error_code": status, "description": ...}`."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass
class Call:
    """One request the server received. `at` is `time.monotonic()` on arrival; `status`/`result` are set
    once the server has answered (`status` None while in flight, `result` None on errors)."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    at: float
    file_names: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    def summary(self) -> str:
        shown = {k: v for k, v in self.params.items() if k in ("chat_id", "text", "caption", "offset", "question")}
        args = ", ".join(f"{k}={v!r:.60}" for k, v in shown.items())
        return f"{self.method}({args}) -> {self.status}"


@dataclass(frozen=True)
class WebhookPost:
    """One attempt to deliver an update to the webhook: `status` is None when the connection failed."""

    update_id: int
    url: str
    status: int | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class StoredFile:
    """A file the server can serve through `getFile` and the download route."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str
    mime_type: str
    file_path: str


@dataclass
class _Fault:
    method: str
    status: int
    description: str
    parameters: dict[str, Any] | None
    times: int | None
    chat_id: Any


def _same_chat(a: Any, b: Any) -> bool:
    return str(a) == str(b)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return 320, 240


_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _TelegramHtml(html.parser.HTMLParser):
    """Telegram's HTML parse mode: plain text plus entities; unsupported or unbalanced tags are errors."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.parts: list[str] = []
        self.length = 0
        self.stack: list[tuple[str, dict[str, str | None], int]] = []
        self.entities: list[dict[str, Any]] = []

    def _fail(self, reason: str) -> ApiError:
        line, col = self.getpos()
        chars = sum(len(part) + 1 for part in self.source.split("\n")[: line - 1]) + col
        offset = len(self.source[:chars].encode())
        return ApiError(400, f"Bad Request: can't parse entities: {reason} at byte offset {offset}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in _HTML_ENTITY_TYPES or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise self._fail(f'Unsupported start tag "{tag}"')
        self.stack.append((tag, attributes, self.length))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            expected = f'"</{self.stack[-1][0]}>"' if self.stack else "nothing"
            raise self._fail(f'Unmatched end tag, expected {expected}, found "</{tag}>"')
        name, attrs, start = self.stack.pop()
        language = (attrs.get("class") or "").removeprefix("language-")
        if name == "code" and self.stack and self.stack[-1][0] == "pre" and language:
            self.stack[-1][1]["language"] = language
            return
        entity: dict[str, Any] = {"type": _HTML_ENTITY_TYPES[name], "offset": start, "length": self.length - start}
        if name == "a":
            entity["url"] = attrs.get("href") or ""
        elif name == "pre" and attrs.get("language"):
            entity["language"] = attrs["language"]
        elif name == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
        elif name == "tg-emoji":
            entity["custom_emoji_id"] = attrs.get("emoji-id") or ""
        if entity["length"] > 0:
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.length += utf16_len(data)

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        self.feed(self.source)
        self.close()
        if self.stack:
            raise self._fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"')
        return "".join(self.parts), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Split Telegram HTML into (plain text, entities) or raise `ApiError` 400 like Telegram does."""
    return _TelegramHtml(source).parse()


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram would add to a user's text: a leading /command and @username mentions."""
    entities: list[dict[str, Any]] = []
    command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group())})
    for mention in re.finditer(r"(?<![\w/@])@[A-Za-z][A-Za-z0-9_]{4,31}\b", text):
        offset = utf16_len(text[: mention.start()])
        entities.append({"type": "mention", "offset": offset, "length": utf16_len(mention.group())})
    return entities


Handler = Callable[[dict[str, Any], "Call"], Awaitable[Any]]


class BotApiServer:
    """A fake Telegram Bot API on 127.0.0.1; use as `async with BotApiServer() as server:`.

    Routes: `GET|POST /bot{token}/{method}` (JSON, form or multipart bodies; method names are
    case-insensitive) and `GET /file/bot{token}/{file_path}`. A wrong token answers 401, an unknown
    method 404. Every request is recorded in `calls`.
    """

    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = BOT_USERNAME) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []  # pending (unconfirmed) updates
        self.webhook_url = ""
        self.webhook_secret = ""
        self.webhook_posts: list[WebhookPost] = []  # every webhook delivery attempt, in order
        self._webhook_workers: list[asyncio.Task[None]] = []
        self._in_flight: set[int] = set()  # update ids being posted to the webhook now
        self.allowed_updates: list[str] = []
        self.command_sets: dict[tuple[str, str], list[dict[str, Any]]] = {}  # see commands_for()
        self.files: dict[str, StoredFile] = {}
        self.polls: dict[str, dict[str, Any]] = {}
        self._next_update_id = 1
        self._message_ids: dict[str, itertools.count[int]] = {}
        self._chat_messages: dict[str, dict[int, dict[str, Any]]] = {}
        self._chats: dict[str, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._members: dict[tuple[str, int], str | ApiError] = {}
        self._faults: list[_Fault] = []
        self._delays: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._update_event = asyncio.Event()
        self._call_event = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._handlers: dict[str, tuple[str, Handler]] = {}
        for name in _METHODS:
            self._handlers[name.lower()] = (name, getattr(self, "_" + _snake(name)))
        for name in _ACCEPTED_METHODS:
            self._handlers[name.lower()] = (name, self._accept)

    # ---- lifecycle -------------------------------------------------------------------------------------

    async def __aenter__(self) -> BotApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Wake pending long polls (they answer empty) and shut the server down."""
        self._closing = True
        self._wake_pollers()
        await self._stop_webhook_workers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)` / `Bot(base_url=...)`."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        """For `ApplicationBuilder().base_file_url(...)` / `Bot(base_file_url=...)`."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot as a User object (the `from` of its messages)."""
        return {"id": self.bot_id, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": self.bot_username}

    def bot(self, **kwargs: Any) -> Bot:
        """A real `telegram.Bot` pointed at this server (use as `async with server.bot() as bot:`)."""
        return Bot(
            self.token,
            base_url=self.base_url,
            base_file_url=self.file_url,
            request=http_request(),
            get_updates_request=http_request(),
            **kwargs,
        )

    def application_builder(self) -> ApplicationBuilder:
        """`ApplicationBuilder()` with token, URLs and fast plain-HTTP requests set for this server."""
        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.file_url)
            .request(http_request())
            .get_updates_request(http_request())
        )

    # ---- inspecting calls ------------------------------------------------------------------------------

    def sent(self, method: str | None = None, chat_id: int | str | None = None) -> list[Call]:
        """Recorded calls, optionally only of `method` and/or to `chat_id`."""
        return [call for call in self.calls if self._matches(call, method, chat_id)]

    def messages(self, chat_id: int | str) -> list[dict[str, Any]]:
        """Messages the bot sent to `chat_id` and has not deleted, in order, with edits applied."""
        stored = self._chat_messages.get(str(chat_id), {})
        return [m for _, m in sorted(stored.items()) if m["from"]["id"] == self.bot_id]

    def texts(self, chat_id: int | str) -> list[str]:
        """The text (or caption) of each message in `messages(chat_id)`."""
        return [m.get("text") or m.get("caption") or "" for m in self.messages(chat_id)]

    def reset(self) -> None:
        """Forget recorded calls (state such as messages, files and commands is kept)."""
        self.calls.clear()

    async def wait_for(
        self,
        method: str,
        *,
        chat_id: int | str | None = None,
        predicate: Callable[[Call], bool] | None = None,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[Call]:
        """Wait until at least `count` answered calls match; return all matching calls, oldest first.

        Raises AssertionError listing every call received if they do not arrive within `timeout`.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = [
                c
                for c in self.calls
                if c.status is not None
                and self._matches(c, method, chat_id)
                and (predicate is None or predicate(c))
            ]
            remaining = deadline - time.monotonic()
            if len(found) >= count:
                return found
            if remaining <= 0:
                received = "\n  ".join(c.summary() for c in self.calls) or "(none)"
                target = f" to chat {chat_id}" if chat_id is not None else ""
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {count} {method} call(s){target}"
                    f"{' matching the predicate' if predicate else ''}; {len(found)} matched. "
                    f"Calls received:\n  {received}"
                )
            await self.next_call(remaining)

    async def next_call(self, timeout: float) -> None:
        """Until the server has answered another call (or accepted a webhook delivery), at most `timeout` s."""
        event = self._call_event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def wait_delivered(self, update_id: int | None = None, *, timeout: float = 10.0) -> None:
        """Wait until the bot confirmed (`getUpdates` offset past) `update_id`, default the last pushed."""
        target = self.last_update_id if update_id is None else update_id
        await self.wait_for(
            "getUpdates", predicate=lambda c: int(c.params.get("offset") or 0) > target, timeout=timeout
        )

    async def wait_webhook_delivered(self, update_id: int | None = None, *, timeout: float = 10.0) -> None:
        """Wait until the webhook answered 2xx for `update_id` (default: the last pushed update)."""
        target = self.last_update_id if update_id is None else update_id
        deadline = time.monotonic() + timeout
        while not any(p.update_id == target and p.ok for p in self.webhook_posts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                tried = [p for p in self.webhook_posts if p.update_id == target]
                raise AssertionError(f"update {target} was not accepted by the webhook in {timeout}s: {tried}")
            await self.next_call(min(remaining, 0.2))

    @property
    def last_update_id(self) -> int:
        return self._next_update_id - 1

    # ---- fault injection and configuration -----------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        description: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` (to `chat_id`, if given) with an error; `times=None`
        fails forever. 429 defaults to "Too Many Requests: retry after N" with `parameters.retry_after`."""
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        description = description or _DEFAULT_DESCRIPTIONS.get(status, "Error")
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        self._faults.append(_Fault(method.lower(), status, description, parameters, times, chat_id))

    def delay(self, method: str, seconds: float) -> None:
        """Wait `seconds` before answering each call of `method` (0 removes the delay)."""
        self._delays[method.lower()] = seconds

    def set_member_status(self, chat_id: int | str, user_id: int, status: str) -> None:
        """What getChatMember answers for this user in this chat (default "member")."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {MEMBER_STATUSES}, not {status!r}")
        self._members[(str(chat_id), user_id)] = status

    def set_member_error(
        self, chat_id: int | str, user_id: int, status: int = 400, description: str = "Bad Request: user not found"
    ) -> None:
        """Make getChatMember for this user in this chat fail."""
        self._members[(str(chat_id), user_id)] = ApiError(status, description)

    def add_file(self, data: bytes, file_name: str = "file.bin", *, mime_type: str | None = None) -> str:
        """Store a file the bot can fetch with getFile + download; returns its file_id."""
        n = next(self._ids)
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        folder = "photos" if mime.startswith("image/") else "documents"
        suffix = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        stored = StoredFile(
            f"FILE{n:04d}-{file_name}", f"U{n:04d}", data, file_name, mime, f"{folder}/file_{n}.{suffix}"
        )
        self.files[stored.file_id] = stored
        return stored.file_id

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]] | None:
        """The commands set with setMyCommands for `scope` (a BotCommandScope dict, default scope when
        None) and `language_code`, or None if none were set."""
        return self.command_sets.get(_commands_key({"scope": scope, "language_code": language_code}))

    def file(self, file_id: str) -> StoredFile:
        """A stored file (uploaded by the bot or added by the test) by file_id."""
        return self.files[file_id]

    def document(self, file_id: str) -> dict[str, Any]:
        """A Document object for a stored file."""
        f = self.files[file_id]
        return {
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "file_name": f.file_name,
            "mime_type": f.mime_type,
            "file_size": len(f.data),
        }

    # ---- pushing updates -------------------------------------------------------------------------------

    def push_raw(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates; `update_id` is assigned when missing. Returns the update."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        self.updates.append(update)
        self._wake_pollers()
        return update

    def push_message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        user_id: int | None = None,
        first_name: str = "Alice",
        username: str | None = "alice",
        language_code: str = "en",
        chat_type: str = "private",
        chat_title: str = "Test group",
        reply_to: dict[str, Any] | None = None,
        entities: list[dict[str, Any]] | None = None,
        caption: str | None = None,
        document: dict[str, Any] | None = None,
        edited: bool = False,
    ) -> dict[str, Any]:
        """Queue a user's message (as `edited_message` if `edited`) and return the Message dict.

        `user_id` defaults to `chat_id` in private chats and to DEFAULT_USER_ID elsewhere. Without
        `entities`, a leading /command and @mentions get entities as Telegram would add them.
        """
        user = self._set_user(
            user_id if user_id is not None else self._default_user(chat_id), first_name, username, language_code
        )
        chat = self._remember_chat(chat_id, chat_type, chat_title, user)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
            message_entities = detect_entities(text) if entities is None else entities
            if message_entities:
                message["entities"] = message_entities
        if document is not None:
            message["document"] = document
        if caption is not None:
            message["caption"] = caption
            if caption_entities := detect_entities(caption):
                message["caption_entities"] = caption_entities
        if reply_to is not None:
            message["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
        if edited:
            message["edit_date"] = message["date"]
        self._store_message(chat_id, message)
        self.push_raw({"edited_message" if edited else "message": message})
        return message

    def push_document(
        self,
        chat_id: int,
        data: bytes,
        file_name: str,
        caption: str | None = None,
        *,
        user_id: int | None = None,
        mime_type: str | None = None,
        **message_fields: Any,
    ) -> dict[str, Any]:
        """Queue a message carrying a document (stored like `add_file`); returns the Message dict.
        Extra keyword arguments go to `push_message` (first_name, chat_type, reply_to, ...)."""
        file_id = self.add_file(data, file_name, mime_type=mime_type)
        return self.push_message(
            chat_id, None, user_id=user_id, caption=caption, document=self.document(file_id), **message_fields
        )

    def push_callback(
        self, chat_id: int, message: dict[str, Any], data: str, *, user_id: int | None = None
    ) -> dict[str, Any]:
        """Queue a press of an inline button with `data` on `message` (a message the bot sent);
        returns the CallbackQuery dict."""
        user = self._user(user_id if user_id is not None else self._default_user(chat_id))
        current = self._chat_messages.get(str(chat_id), {}).get(message["message_id"], message)
        query = {
            "id": str(next(self._ids) + 10**12),
            "from": user,
            "message": current,
            "chat_instance": f"instance-{chat_id}",
            "data": data,
        }
        self.push_raw({"callback_query": query})
        return query

    def push_poll_answer(self, poll_id: str, user_id: int, option_ids: list[int]) -> dict[str, Any]:
        """Queue a user's vote in a non-anonymous poll; returns the PollAnswer dict."""
        poll = self.polls.get(poll_id)
        if poll is not None:
            for i in option_ids:
                poll["options"][i]["voter_count"] += 1
            poll["total_voter_count"] += 1
        answer = {
            "poll_id": poll_id,
            "user": self._user(user_id),
            "option_ids": list(option_ids),
            "option_persistent_ids": [str(i) for i in option_ids],
        }
        self.push_raw({"poll_answer": answer})
        return answer

    # ---- HTTP ------------------------------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.Response:
        params, files, names = await _read_params(request)
        name, handler = self._handlers.get(
            request.match_info["method"].lower(), (request.match_info["method"], None)
        )
        call = Call(name, params, files, time.monotonic(), file_names=names)
        self.calls.append(call)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            if seconds := self._delays.get(name.lower()):
                await asyncio.sleep(seconds)
            self._raise_injected_fault(call)
            result = await handler(params, call)
        except ApiError as error:
            call.status, call.error = error.status, error.description
            self._notify_call()
            return web.json_response(error.payload(), status=error.status)
        call.status, call.result = 200, result
        self._notify_call()
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        path = request.match_info["file_path"]
        for stored in self.files.values():
            if stored.file_path == path:
                return web.Response(body=stored.data, content_type=stored.mime_type)
        return web.json_response(ApiError(404, "Not Found").payload(), status=404)

    def _raise_injected_fault(self, call: Call) -> None:
        for fault in self._faults:
            if fault.method == call.method.lower() and (
                fault.chat_id is None or _same_chat(fault.chat_id, call.chat_id)
            ):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                raise ApiError(fault.status, fault.description, fault.parameters)

    def _matches(self, call: Call, method: str | None, chat_id: int | str | None) -> bool:
        if method is not None and call.method.lower() != method.lower():
            return False
        return chat_id is None or _same_chat(call.chat_id, chat_id)

    def _notify_call(self) -> None:
        self._call_event.set()
        self._call_event = asyncio.Event()

    def _wake_pollers(self) -> None:
        self._update_event.set()
        self._update_event = asyncio.Event()

    # ---- state helpers ---------------------------------------------------------------------------------

    def _default_user(self, chat_id: int) -> int:
        return chat_id if chat_id > 0 else DEFAULT_USER_ID

    def _set_user(self, user_id: int, first_name: str, username: str | None, language_code: str) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        return user

    def _user(self, user_id: int) -> dict[str, Any]:
        """The user as last pushed, else a default "Alice"."""
        return self._users.get(user_id) or self._set_user(user_id, "Alice", "alice", "en")

    def _remember_chat(self, chat_id: int, chat_type: str, title: str, user: dict[str, Any]) -> dict[str, Any]:
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
            if "username" in user:
                chat["username"] = user["username"]
        else:
            chat = {"id": chat_id, "type": chat_type, "title": title}
        self._chats[str(chat_id)] = chat
        return chat

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if str(chat_id) in self._chats:
            return self._chats[str(chat_id)]
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            return {"id": -1009999999999, "type": "channel", "title": chat_id[1:], "username": chat_id[1:]}
        cid = int(chat_id)
        if cid > 0:
            return {"id": cid, "type": "private", "first_name": "Alice"}
        return {"id": cid, "type": "supergroup" if str(cid).startswith("-100") else "group", "title": "Test group"}

    def _next_message_id(self, chat_id: Any) -> int:
        counter = self._message_ids.setdefault(str(chat_id), itertools.count(1))
        return next(counter)

    def _store_message(self, chat_id: Any, message: dict[str, Any]) -> None:
        self._chat_messages.setdefault(str(chat_id), {})[message["message_id"]] = message

    def _find_message(self, params: dict[str, Any], action: str) -> dict[str, Any]:
        chat_id = _require(params, "chat_id")
        message = self._chat_messages.get(str(chat_id), {}).get(int(_require(params, "message_id")))
        if message is None:
            raise ApiError(400, f"Bad Request: message to {action} not found")
        return message

    def _new_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _require(params, "chat_id")
        chat = self._chat(chat_id)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        reply = params.get("reply_parameters") or (
            {"message_id": params["reply_to_message_id"]} if params.get("reply_to_message_id") else None
        )
        if reply:
            replied = self._chat_messages.get(str(reply.get("chat_id", chat_id)), {}).get(int(reply["message_id"]))
            if replied is not None:
                message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
            elif not reply.get("allow_sending_without_reply") and not params.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    def _commit(self, message: dict[str, Any]) -> dict[str, Any]:
        self._store_message(message["chat"]["id"], message)
        return message

    def _stored_upload(self, params: dict[str, Any], call: Call, field_name: str) -> StoredFile:
        if field_name in call.files:
            name = call.file_names.get(field_name) or field_name
            return self.files[self.add_file(call.files[field_name], name)]
        value = params.get(field_name)
        if isinstance(value, str) and value.startswith("attach://"):
            attached = value.removeprefix("attach://")
            if attached in call.files:
                return self.files[self.add_file(call.files[attached], call.file_names.get(attached) or attached)]
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    # ---- Bot API methods (one coroutine per method, named after it) ----------------------------------

    async def _accept(self, params: dict[str, Any], call: Call) -> Any:
        return True

    async def _get_me(self, params: dict[str, Any], call: Call) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: dict[str, Any], call: Call) -> Any:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            )
        offset, limit = int(params.get("offset") or 0), min(max(int(params.get("limit") or 100), 1), 100)
        if params.get("allowed_updates") is not None:
            self.allowed_updates = list(params["allowed_updates"])
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            if offset > 0:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            elif offset < 0:
                self.updates = self.updates[offset:]
            if self.allowed_updates:
                self.updates = [u for u in self.updates if _update_type(u) in self.allowed_updates]
            remaining = deadline - time.monotonic()
            if self.updates or self._closing or remaining <= 0:
                return self.updates[:limit]
            event = self._update_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _delete_webhook(self, params: dict[str, Any], call: Call) -> Any:
        self.webhook_url = ""
        self.webhook_secret = ""
        await self._stop_webhook_workers()
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    async def _set_webhook(self, params: dict[str, Any], call: Call) -> Any:
        url = str(_require(params, "url"))
        secret = str(params.get("secret_token") or "")
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook_url, self.webhook_secret = url, secret
        if params.get("allowed_updates") is not None:
            self.allowed_updates = list(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self.updates.clear()
        connections = min(max(int(params.get("max_connections") or 40), 1), 100)
        await self._stop_webhook_workers()
        self._webhook_workers = [
            asyncio.create_task(self._webhook_worker(), name=f"webhook-{i}") for i in range(connections)
        ]
        return True

    async def _stop_webhook_workers(self) -> None:
        workers, self._webhook_workers = self._webhook_workers, []
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._in_flight.clear()

    def _next_for_webhook(self) -> dict[str, Any] | None:
        if self.allowed_updates:
            self.updates = [u for u in self.updates if _update_type(u) in self.allowed_updates]
        return next((u for u in self.updates if u["update_id"] not in self._in_flight), None)

    async def _webhook_worker(self) -> None:
        """POST pending updates to the webhook until it is deleted; a failed update is retried later."""
        import aiohttp

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            while not self._closing:
                update = self._next_for_webhook()
                if update is None:
                    event = self._update_event
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(event.wait(), 1.0)
                    continue
                update_id = update["update_id"]
                self._in_flight.add(update_id)
                headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret} if self.webhook_secret else {}
                try:
                    async with session.post(self.webhook_url, json=update, headers=headers) as response:
                        status: int | None = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = None
                self.webhook_posts.append(WebhookPost(update_id, self.webhook_url, status))
                self._in_flight.discard(update_id)
                if status is not None and 200 <= status < 300:
                    self.updates = [u for u in self.updates if u["update_id"] != update_id]
                    self._notify_call()
                else:
                    await asyncio.sleep(0.2)  # Telegram retries a failed delivery after a while

    async def _get_webhook_info(self, params: dict[str, Any], call: Call) -> Any:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }

    async def _send_message(self, params: dict[str, Any], call: Call) -> Any:
        message = self._new_message(params)
        text, entities = _formatted(params, "text", "entities", limit=4096)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        message["text"] = text
        if entities:
            message["entities"] = entities
        return self._commit(message)

    async def _edit_message_text(self, params: dict[str, Any], call: Call) -> Any:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "edit")
        text, entities = _formatted(params, "text", "entities", limit=4096)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        markup = params.get("reply_markup")
        changed = {"text": text, "entities": entities or None, "reply_markup": markup or None}
        self._apply_edit(message, changed)
        return message

    async def _edit_message_caption(self, params: dict[str, Any], call: Call) -> Any:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "edit")
        caption, entities = _formatted(params, "caption", "caption_entities", limit=1024)
        changed = {"caption": caption or None, "caption_entities": entities or None}
        self._apply_edit(message, {**changed, "reply_markup": params.get("reply_markup") or None})
        return message

    async def _edit_message_reply_markup(self, params: dict[str, Any], call: Call) -> Any:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "edit")
        self._apply_edit(message, {"reply_markup": params.get("reply_markup") or None})
        return message

    def _apply_edit(self, message: dict[str, Any], changed: dict[str, Any]) -> None:
        markup = changed.get("reply_markup")
        if markup is not None and "inline_keyboard" not in markup:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if all(message.get(key) == value for key, value in changed.items()):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message",
            )
        for key, value in changed.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = int(time.time())

    async def _delete_message(self, params: dict[str, Any], call: Call) -> Any:
        message = self._find_message(params, "delete")
        del self._chat_messages[str(message["chat"]["id"])][message["message_id"]]
        return True

    async def _send_photo(self, params: dict[str, Any], call: Call) -> Any:
        message = self._new_message(params)
        stored = self._stored_upload(params, call, "photo")
        width, height = _png_size(stored.data)
        scale = min(1.0, 90 / max(width, height))
        thumb = self.files[self.add_file(stored.data, "thumb_" + stored.file_name, mime_type=stored.mime_type)]
        message["photo"] = [
            _photo_size(thumb, max(1, int(width * scale)), max(1, int(height * scale))),
            _photo_size(stored, width, height),
        ]
        return self._commit(_with_caption(message, params))

    async def _send_document(self, params: dict[str, Any], call: Call) -> Any:
        message = self._new_message(params)
        message["document"] = self.document(self._stored_upload(params, call, "document").file_id)
        return self._commit(_with_caption(message, params))

    async def _send_chat_action(self, params: dict[str, Any], call: Call) -> Any:
        _require(params, "chat_id")
        _require(params, "action")
        return True

    async def _answer_callback_query(self, params: dict[str, Any], call: Call) -> Any:
        _require(params, "callback_query_id")
        return True

    async def _set_my_commands(self, params: dict[str, Any], call: Call) -> Any:
        self.command_sets[_commands_key(params)] = list(_require(params, "commands"))
        return True

    async def _get_my_commands(self, params: dict[str, Any], call: Call) -> Any:
        return self.command_sets.get(_commands_key(params), [])

    async def _delete_my_commands(self, params: dict[str, Any], call: Call) -> Any:
        self.command_sets.pop(_commands_key(params), None)
        return True

    async def _send_poll(self, params: dict[str, Any], call: Call) -> Any:
        message = self._new_message(params)
        options = [o if isinstance(o, str) else o["text"] for o in _require(params, "options")]
        if not 2 <= len(options) <= 12:
            raise ApiError(400, "Bad Request: poll must have at least 2 option")
        poll: dict[str, Any] = {
            "id": str(5_000_000_000 + next(self._ids)),
            "question": _require(params, "question"),
            "options": [{"text": t, "voter_count": 0, "persistent_id": str(i)} for i, t in enumerate(options)],
            "total_voter_count": 0,
            "is_closed": bool(params.get("is_closed", False)),
            "is_anonymous": bool(params.get("is_anonymous", True)),
            "type": params.get("type") or "regular",
            "allows_multiple_answers": bool(params.get("allows_multiple_answers", False)),
            "allows_revoting": bool(params.get("allows_revoting", params.get("type") != "quiz")),
            "members_only": bool(params.get("members_only", False)),
        }
        if params.get("correct_option_id") is not None:
            poll["correct_option_id"] = params["correct_option_id"]
        self.polls[poll["id"]] = poll
        message["poll"] = poll
        return self._commit(message)

    async def _stop_poll(self, params: dict[str, Any], call: Call) -> Any:
        message = self._find_message(params, "stop")
        if "poll" not in message:
            raise ApiError(400, "Bad Request: message with poll to stop not found")
        if message["poll"]["is_closed"]:
            raise ApiError(400, "Bad Request: poll has already been closed")
        message["poll"]["is_closed"] = True
        return message["poll"]

    async def _get_chat(self, params: dict[str, Any], call: Call) -> Any:
        chat = self._chat(_require(params, "chat_id"))
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"),
            False,
        )
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}

    async def _get_chat_member(self, params: dict[str, Any], call: Call) -> Any:
        chat_id, user_id = _require(params, "chat_id"), int(_require(params, "user_id"))
        status = self._members.get((str(chat_id), user_id), "member")
        if isinstance(status, ApiError):
            raise status
        user = self.bot_user if user_id == self.bot_id else self._user(user_id)
        return _chat_member(user, status)

    async def _get_file(self, params: dict[str, Any], call: Call) -> Any:
        stored = self.files.get(str(_require(params, "file_id")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }


_METHODS = _words(
    "getMe getUpdates deleteWebhook setWebhook getWebhookInfo sendMessage editMessageText "
    "editMessageCaption editMessageReplyMarkup deleteMessage sendPhoto sendDocument sendChatAction "
    "answerCallbackQuery setMyCommands getMyCommands deleteMyCommands sendPoll stopPoll getChat "
    "getChatMember getFile"
)
# Methods answered with `true` and otherwise only recorded.
_ACCEPTED_METHODS = _words(
    "close logOut setMyDescription setMyShortDescription setMyName setChatMenuButton setMessageReaction "
    "pinChatMessage unpinChatMessage leaveChat"
)


def http_request(**kwargs: Any) -> HTTPXRequest:
    """An `HTTPXRequest` that skips loading CA certificates: the fake server is plain HTTP, and it saves
    ~100 ms per Bot. kwargs go to HTTPXRequest (e.g. `read_timeout`)."""
    return HTTPXRequest(httpx_kwargs={"verify": False}, **kwargs)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _require(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise ApiError(400, f"Bad Request: {name} is empty")
    return value


def _update_type(update: dict[str, Any]) -> str:
    return next((key for key in update if key in _UPDATE_TYPES), "")


def _decode(name: str, value: Any) -> Any:
    if not isinstance(value, str) or name in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
    """Query, JSON, urlencoded and multipart parameters; JSON-in-strings (as PTB sends) are decoded."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, bytes] = {}
    names: dict[str, str] = {}
    if request.content_type == "application/json":
        body = await request.read()
        if body:
            raw.update(json.loads(body))
    elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[key] = value.file.read()
                names[key] = value.filename
            else:
                raw[key] = value
    return {key: _decode(key, value) for key, value in raw.items()}, files, names


def _formatted(
    params: dict[str, Any], key: str, entities_key: str, *, limit: int
) -> tuple[str, list[dict[str, Any]]]:
    text = str(params.get(key) or "")
    entities = list(params.get(entities_key) or [])
    if (params.get("parse_mode") or "").upper() == "HTML" and not entities:
        text, entities = parse_html(text)
    if utf16_len(text) > limit:
        what = "message is too long" if key == "text" else "message caption is too long"
        raise ApiError(400, f"Bad Request: {what}")
    return text, entities


def _with_caption(message: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    caption, entities = _formatted(params, "caption", "caption_entities", limit=1024)
    if caption:
        message["caption"] = caption
    if entities:
        message["caption_entities"] = entities
    return message


def _photo_size(stored: StoredFile, width: int, height: int) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": width,
        "height": height,
        "file_size": len(stored.data),
    }


def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


def _chat_member(user: dict[str, Any], status: str) -> dict[str, Any]:
    member: dict[str, Any] = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        rights = _words(
            "can_be_edited is_anonymous can_manage_chat can_delete_messages can_manage_video_chats "
            "can_restrict_members can_promote_members can_change_info can_invite_users can_post_stories "
            "can_edit_stories can_delete_stories can_pin_messages"
        )
        member.update({right: right not in ("can_be_edited", "is_anonymous") for right in rights})
    elif status == "restricted":
        rights = _words(
            "is_member can_change_info can_invite_users can_pin_messages can_send_messages can_send_polls "
            "can_send_other_messages can_add_web_page_previews can_manage_topics can_send_audios "
            "can_send_documents can_send_photos can_send_videos can_send_video_notes can_send_voice_notes "
            "can_edit_tag can_react_to_messages"
        )
        member.update({right: right == "is_member" for right in rights})
        member["until_date"] = 0
    elif status == "kicked":
        member["until_date"] = 0
    return member
