"""Time, injected: every wait in the project goes through one `Clock` and the one `poll` loop.

Tests pass a `FakeClock` whose `sleep` only advances its own time, so no test sleeps for real.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


@dataclass
class FakeClock:
    """A clock for tests: `sleep` advances time instantly and records each call."""

    start: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc))
    elapsed: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds

    def now(self) -> datetime:
        from datetime import timedelta

        return self.start + timedelta(seconds=self.elapsed)


def poll(clock: Clock, *, interval: float, timeout: float) -> Iterator[float]:
    """Yield the seconds elapsed, once now and then on a fixed schedule every `interval`, until `timeout`.

    The schedule is start + k * interval, whatever the caller's own work between two yields costs (AWS
    calls, printing), so a change is seen at most one interval plus one request after it happened; a
    tick the work overran is skipped, not queued. The caller breaks out when what it waits for has
    happened; running off the end means the timeout passed, and the caller says what it still waited for.
    """
    started = clock.monotonic()
    tick = 0
    while True:
        elapsed = clock.monotonic() - started
        yield elapsed
        if elapsed >= timeout:
            return
        now = clock.monotonic() - started
        tick = max(tick + 1, int(now // interval) + 1)
        clock.sleep(max(min(tick * interval, timeout) - now, 0.0))
