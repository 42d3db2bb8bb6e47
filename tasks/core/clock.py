"""Time, injected: every wait in the project goes through one `Clock`, the one `poll` loop and `Wait`.

Tests pass a fake clock whose `sleep` only advances its own time, so no test sleeps for real. A wait
outlasts transient AWS trouble: a read that is throttled, answered with a 5xx or dropped (after the SDK's
own retries) is a missed poll, said once per outage and again when AWS answers; only the deadline ends a
wait, and then the reason names the last error as well as the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from .errors import DeployError

Say = Callable[[str], None]


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


def duration(seconds: float) -> str:
    """`4.2s`, `2m05s`: how long a step took, as a person reads it."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m{rest:02d}s"


@dataclass
class _Outage:
    since: float
    problem: str
    misses: int = 0


class Wait:
    """One wait: `ticks()` on the `poll` schedule, and reads inside `tolerating(action)`.

    A transient `AwsError` inside `tolerating` skips the rest of that block (the poll is missed, the wait
    goes on); the first miss of an outage is said, with what failed, and so is the first good read after it.
    Any other error goes through. `trouble()` is what to add to a timeout's reason while an outage lasts.
    """

    def __init__(self, clock: Clock, *, interval: float, timeout: float, say: Say, indent: str = "    ") -> None:
        self.clock = clock
        self.interval = interval
        self.timeout = timeout
        self.say = say
        self.indent = indent
        self.started = clock.monotonic()
        self.outages: dict[str, _Outage] = {}

    def ticks(self) -> Iterator[float]:
        self.started = self.clock.monotonic()
        yield from poll(self.clock, interval=self.interval, timeout=self.timeout)

    @property
    def elapsed(self) -> float:
        return self.clock.monotonic() - self.started

    @contextmanager
    def tolerating(self, reads: str) -> Iterator[None]:
        """`reads` (what the block reads, in words) as a missed poll when it fails transiently."""
        try:
            yield
        except DeployError as err:
            if not err.transient:
                raise
            self.miss(reads, err)
            return
        self.answered(reads)

    def miss(self, reads: str, err: DeployError) -> None:
        problem = f"{getattr(err, 'action', '') or reads} {getattr(err, 'problem', err)}"
        outage = self.outages.get(reads)
        if outage is None:
            outage = self.outages[reads] = _Outage(since=self.elapsed, problem=problem)
            self.say(f"{self.indent}{problem}; still waiting")
        outage.problem = problem
        outage.misses += 1

    def answered(self, reads: str) -> None:
        outage = self.outages.pop(reads, None)
        if outage is not None:
            action = outage.problem.split(" ", 1)[0]
            count = f"{outage.misses} failed read{'s' if outage.misses > 1 else ''}"
            self.say(f"{self.indent}{action} answers again after {count} ({self.elapsed - outage.since:.0f}s)")

    def trouble(self) -> str:
        """'; the last read failed: ...' while reads are failing, else ''."""
        if not self.outages:
            return ""
        return "; the last read failed: " + "; ".join(
            f"{o.problem} ({o.misses} in a row)" for o in self.outages.values()
        )
