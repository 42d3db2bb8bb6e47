"""The one wait loop: a fixed schedule, whatever each poll's own work costs, and a timeout that is kept."""

from __future__ import annotations

from fakes import FakeClock

from tasks.core.clock import poll


def ticks(work: list[float], *, interval: float, timeout: float) -> tuple[list[float], list[float]]:
    """The elapsed times poll yields when each poll's work takes the next of `work` seconds."""
    clock = FakeClock()
    seen = []
    costs = iter(work)
    for elapsed in poll(clock, interval=interval, timeout=timeout):
        seen.append(elapsed)
        clock.elapsed += next(costs, 0.0)  # the caller's AWS calls and printing
    return seen, clock.sleeps


def test_work_between_polls_does_not_push_the_schedule_back():
    seen, sleeps = ticks([0.3, 0.3, 0.3], interval=1, timeout=3)
    assert seen == [0, 1, 2, 3]
    assert [round(s, 6) for s in sleeps] == [0.7, 0.7, 0.7]


def test_a_poll_that_overruns_a_tick_skips_it_instead_of_queueing():
    seen, _ = ticks([2.5], interval=1, timeout=5)
    assert seen == [0, 3, 4, 5]


def test_the_last_poll_is_at_the_timeout_not_past_it():
    seen, _ = ticks([], interval=4, timeout=10)
    assert seen == [0, 4, 8, 10]
