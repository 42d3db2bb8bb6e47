"""The one wait loop: a fixed schedule, whatever each poll's own work costs, and a timeout that is kept."""

from __future__ import annotations

import pytest
from fakes import FakeClock

from tasks.core.aws import AwsError
from tasks.core.clock import Writes, poll


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


def throttled() -> AwsError:
    return AwsError("AWS ecs:UpdateService throttled", action="ecs:UpdateService",
                    problem="throttled (ThrottlingException)", transient=True, applied=False)


def unknown() -> AwsError:
    return AwsError("AWS ecs:UpdateService timed out", action="ecs:UpdateService",
                    problem="timed out (ReadTimeoutError)", transient=True, applied=None)


def script(*outcomes: object) -> tuple[list[object], object]:
    """A write that raises or returns each outcome in turn, and the list of what it was asked."""
    calls: list[object] = []
    pending = list(outcomes)

    def write() -> object:
        calls.append("write")
        outcome = pending.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return calls, write


def test_a_throttled_write_is_retried_with_growing_pauses_and_the_outage_said_once_and_its_end_once():
    clock, lines = FakeClock(), []
    writes = Writes(clock, lines.append, budget=60, jitter=lambda: 1.0)
    calls, write = script(throttled(), throttled(), throttled(), "done")
    assert writes.attempt("ecs:UpdateService", write, subject="web") == "done"
    assert len(calls) == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert lines == ["    web: ecs:UpdateService throttled (ThrottlingException); retrying for up to 1m00s",
                     "    web: ecs:UpdateService answers again after 3 failed attempts (7s)"]


def test_the_retry_stops_at_the_budget_with_aws_s_error():
    clock = FakeClock()
    writes = Writes(clock, lambda line: None, budget=10, jitter=lambda: 1.0)
    calls, write = script(*[throttled()] * 10)
    with pytest.raises(AwsError, match="throttled"):
        writes.attempt("ecs:UpdateService", write)
    assert clock.elapsed <= 10 and len(calls) == 4  # pauses of 1, 2 and 4 s; the next (8 s) would pass 10 s


def test_a_put_back_raises_the_budget_for_its_own_time_only():
    writes = Writes(FakeClock(), lambda line: None, budget=60)
    with writes.for_up_to(600):
        assert writes.budget == 600
    assert writes.budget == 60


def test_an_error_that_may_have_been_applied_is_re_read_and_not_repeated_when_it_landed():
    writes = Writes(FakeClock(), lambda line: None, budget=60, jitter=lambda: 0.0)
    calls, write = script(unknown())
    reads: list[str] = []
    assert writes.attempt("ecs:UpdateService", write, lambda: reads.append("read") or "deployment 2") == "deployment 2"
    assert calls == ["write"] and reads == ["read"]


def test_an_error_that_may_have_been_applied_is_repeated_only_after_a_read_says_it_did_not_land():
    writes = Writes(FakeClock(), lambda line: None, budget=60, jitter=lambda: 0.0)
    calls, write = script(unknown(), "deployment 2")
    assert writes.attempt("ecs:UpdateService", write, lambda: None) == "deployment 2"
    assert calls == ["write", "write"]


def test_without_a_read_an_unknown_outcome_and_a_final_error_go_straight_through():
    writes = Writes(FakeClock(), lambda line: None, budget=60)
    for error in (unknown(), AwsError("denied", action="ecs:UpdateService")):
        calls, write = script(error)
        with pytest.raises(AwsError):
            writes.attempt("ecs:UpdateService", write)
        assert calls == ["write"]
