"""`bot.limits.RateLimiter`: a per-user sliding window on an injected clock."""

import pytest

from bot.limits import RateLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.mark.parametrize(("limit", "window"), [(1, 1.0), (3, 10.0), (20, 60.0)])
def test_allows_limit_events_then_refuses(clock, limit, window):
    limiter = RateLimiter(limit, window, clock=clock)
    assert [limiter.allow(7) for _ in range(limit)] == [True] * limit
    assert limiter.allow(7) is False
    clock.now += window * 0.9
    assert limiter.allow(7) is False


def test_users_are_limited_independently(clock):
    limiter = RateLimiter(2, 60.0, clock=clock)
    assert limiter.allow(1) and limiter.allow(1)
    assert not limiter.allow(1)
    assert limiter.allow(2) and limiter.allow(2)
    assert not limiter.allow(2)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # (seconds since start, allowed?) with limit 3 per 10 s
        ([0, 5, 9, 9.5], [True, True, True, False]),
        ([0, 5, 9, 10.5], [True, True, True, True]),  # the event at 0 left the window
        # A fixed window [0,10) [10,20) would allow 11: only 10.5 would be in it. A sliding one still holds 5 and 9.
        ([0, 5, 9, 10.5, 11], [True, True, True, True, False]),
        ([0, 0, 0, 30], [True, True, True, True]),
        ([0, 1, 2, 25, 26, 27], [True] * 6),
    ],
)
def test_the_window_slides(clock, steps, expected):
    limiter = RateLimiter(3, 10.0, clock=clock)
    start = clock.now
    results = []
    for at in steps:
        clock.now = start + at
        results.append(limiter.allow(99))
    assert results == expected


def test_a_user_is_allowed_again_once_the_window_has_passed(clock):
    limiter = RateLimiter(3, 60.0, clock=clock)
    for _ in range(3):
        assert limiter.allow(5)
    assert not limiter.allow(5)
    clock.now += 60.5
    assert limiter.allow(5)


def test_default_clock_is_monotonic_and_works():
    limiter = RateLimiter(2, 60.0)
    assert limiter.allow(1) and limiter.allow(1) and not limiter.allow(1)
