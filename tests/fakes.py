"""Test doubles of the project's own interfaces (not of AWS: that is moto, Stubber and the sandbox).

`FakeClock` is a `tasks.core.clock.Clock` whose `sleep` advances its own time at once and records each call, so
no test ever sleeps for real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone


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
        return self.start + timedelta(seconds=self.elapsed)
