"""Logging set-up shared by every entry point, and the guarantee that the bot token is never logged.

httpx logs each request URL at INFO and python-telegram-bot logs its API URL at DEBUG, and both URLs
contain the token. httpx stays at WARNING, and every log record, from any logger to any handler, has
token-shaped text replaced before anyone formats it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
_installed = False


def redact(text: str) -> str:
    return _TOKEN.sub("<token>", text)


def _redacting_factory(previous: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem to report, not ours
            return record
        if _TOKEN.search(message):
            record.msg, record.args = redact(message), ()
        return record

    return factory


def protect_logs() -> None:
    """Install the redacting record factory (once) and keep httpx's request lines out of INFO logs."""
    global _installed
    if not _installed:
        logging.setLogRecordFactory(_redacting_factory(logging.getLogRecordFactory()))
        _installed = True
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # apscheduler logs two INFO lines per job run (every few seconds): only its warnings are news.
    for noisy in ("chromadb", "jieba", "urllib3", "matplotlib", "bm25s", "apscheduler", "tornado.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    protect_logs()
