"""Logging set-up shared by every entry point.

httpx logs each request URL at INFO, and Bot API URLs contain the token: keep it at WARNING, and
redact anything that looks like a token in every record as a second line of defence.
"""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b")


class RedactTokens(logging.Filter):
    """Replace bot tokens in log messages and arguments with a placeholder."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN.search(message):
            record.msg = _TOKEN.sub("<token>", message)
            record.args = ()
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "chromadb", "jieba", "urllib3", "matplotlib", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
