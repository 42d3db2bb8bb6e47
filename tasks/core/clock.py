"""Time, injected: every wait in the project goes through one `Clock`, the one `poll` loop and `Wait`.

Tests pass a fake clock whose `sleep` only advances its own time, so no test sleeps for real. A wait
outlasts transient AWS trouble: a read that is throttled, answered with a 5xx or dropped (after the SDK's
own retries) is a missed poll, said once per outage and again when AWS answers; only the deadline ends a
wait, and then the reason names the last error as well as the timeout.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol, TypeVar

from .errors import DeployError

Say = Callable[[str], None]
T = TypeVar("T")


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


def span(seconds: float) -> str:
    """`35s`, `10m00s`: a time allowed, as a person says it (whole seconds)."""
    return f"{seconds:.0f}s" if seconds < 60 else duration(seconds)


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

    def __init__(self, clock: Clock, *, interval: float, timeout: float, say: Say, indent: str = "    ",
                 going_on: str = "still waiting", tries: str = "read") -> None:
        self.clock = clock
        self.interval = interval
        self.timeout = timeout
        self.say = say
        self.indent = indent
        self.going_on = going_on  # what the first miss of an outage says comes next
        self.tries = tries  # what one miss is called when the outage ends
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
            self.say(f"{self.indent}{problem}; {self.going_on}")
        outage.problem = problem
        outage.misses += 1

    def answered(self, reads: str) -> None:
        outage = self.outages.pop(reads, None)
        if outage is not None:
            action = outage.problem.split(" ", 1)[0]
            count = f"{outage.misses} failed {self.tries}{'s' if outage.misses > 1 else ''}"
            self.say(f"{self.indent}{action} answers again after {count} ({self.elapsed - outage.since:.0f}s)")

    def trouble(self) -> str:
        """'; the last read failed: ...' while reads are failing, else ''."""
        if not self.outages:
            return ""
        return "; the last read failed: " + "; ".join(
            f"{o.problem} ({o.misses} in a row)" for o in self.outages.values()
        )


class Writes:
    """Writes that outlast a burst of throttling: a write AWS did not apply is tried again, with backoff and jitter,
    for up to `budget` seconds; one whose outcome is unknown is re-read first and repeated only if it did not land.

    This sits above botocore's own retries (a few attempts within a second or two), which a burst on a low rate
    limit such as ecs:UpdateService outlasts. Only `AwsError.applied is False` (throttled, 429, never sent) is
    repeated blind; for `applied is None` (a 5xx, a timeout or a drop after sending) the caller's `landed` read
    says whether the write took effect, and without one the error goes through. The outage is said once, with
    how long it will be retried, and its end once, by the same `Wait` as reads. A put-back raises `budget` to
    its own time (`for_up_to`), since giving up there leaves production mixed.
    """

    BASE = 1.0  # seconds before the first retry; doubled each time, up to CAP
    CAP = 20.0

    def __init__(self, clock: Clock, say: Say, *, budget: float, jitter: Callable[[], float] = random.random) -> None:
        self.clock = clock
        self.say = say
        self.budget = budget
        self.jitter = jitter

    @contextmanager
    def for_up_to(self, seconds: float) -> Iterator[None]:
        before, self.budget = self.budget, max(self.budget, seconds)
        try:
            yield
        finally:
            self.budget = before

    def attempt(self, action: str, write: Callable[[], T], landed: Callable[[], T | None] | None = None, *,
                subject: str = "") -> T:
        """`write()`, retried while AWS says it was not applied and `budget` seconds allow; `landed()` is a read
        that returns the write's result when it took effect after all, else None. `subject` (a service, a tag)
        starts the lines said about an outage."""
        wait = Wait(self.clock, interval=self.BASE, timeout=self.budget, say=self.say,
                    indent=f"    {subject}: " if subject else "    ",
                    going_on=f"retrying for up to {duration(self.budget)}", tries="attempt")
        delay = self.BASE
        while True:
            try:
                result = write()
            except DeployError as err:
                applied = getattr(err, "applied", True)
                unknown = applied is None and landed is not None
                if not err.transient or not (applied is False or unknown) or wait.elapsed + delay > self.budget:
                    raise
                wait.miss(action, err)
            else:
                wait.answered(action)
                return result
            delay = self._pause(delay)
            while unknown and landed is not None:  # re-read before repeating a write that may have landed
                try:
                    found = landed()
                except DeployError as err:
                    if not err.transient or wait.elapsed + delay > self.budget:
                        raise
                    delay = self._pause(delay)
                    continue
                if found is not None:
                    wait.answered(action)
                    return found
                break

    def _pause(self, delay: float) -> float:
        """Sleep `delay` with jitter (so parallel writes do not retry in step); the next, longer delay."""
        self.clock.sleep(delay * (0.5 + self.jitter() / 2))
        return min(delay * 2, self.CAP)


NO_RETRY = Writes(SystemClock(), lambda line: None, budget=0.0)  # for gateways made without a run's clock
