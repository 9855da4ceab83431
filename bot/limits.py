"""Per-user rate limiting: a sliding window of recent question times, pure and clock-injectable."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """Allows at most `limit` events per user within `window` seconds."""

    def __init__(self, limit: int = 20, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[int, deque[float]] = {}

    def allow(self, user_id: int) -> bool:
        now = self.clock()
        events = self._events.setdefault(user_id, deque())
        while events and now - events[0] >= self.window:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        return True

    def retry_in(self, user_id: int) -> float:
        """Seconds until the user may ask again (0 when they may now)."""
        events = self._events.get(user_id)
        if not events or len(events) < self.limit:
            return 0.0
        return max(0.0, self.window - (self.clock() - events[0]))
