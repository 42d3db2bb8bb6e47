"""The executor's put-back: every step that ran is put back, in the order the steps' own dependencies give."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from fakes import FakeClock

from tasks.core.clock import NO_RETRY
from tasks.core.errors import DeployError
from tasks.core.executor import execute
from tasks.core.plan import Plan
from tasks.core.record import Journal
from tasks.core.steps import Step, put_back_order
from tasks.core.steps.migrate import Migrate
from tasks.core.steps.notify import Notify
from tasks.core.steps.restart import Restart
from tasks.core.steps.retag import Retag
from tasks.core.steps.smoke import Smoke


@dataclass
class Played(Step):
    """A step standing in for a real one: its name and put-back dependencies are the real step's."""

    like: type
    log: list[str]
    fails: bool = False
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.like.name
        self.put_back_after = self.like.put_back_after

    def describe(self) -> list[str]:
        return [self.name]

    def run(self, target) -> None:
        self.log.append(f"run {self.name}")
        if self.fails:
            raise DeployError("it broke")

    def put_back(self, target) -> None:
        self.log.append(f"put back {self.name}")


def target(log: list[str]) -> SimpleNamespace:
    env = SimpleNamespace(name="staging", on_failure="put-back")
    return SimpleNamespace(clock=FakeClock(), say=lambda line: None, env=env, writes=NO_RETRY, put_back_timeout=60,
                           journal=Journal())


def test_the_release_tag_goes_back_before_the_services_are_redeployed_in_whatever_order_they_ran():
    log: list[str] = []
    plan = Plan("deploy", [Played(Restart, log), Played(Migrate, log), Played(Retag, log), Played(Smoke, log, True)])
    with pytest.raises(DeployError, match="smoke failed: it broke"):
        execute(plan, target(log))
    # each in the order it ran, but restart waits for retag
    assert log[4:] == ["put back migrate", "put back retag", "put back restart", "put back smoke"]


def test_steps_with_no_dependency_are_put_back_in_the_order_they_ran():
    log: list[str] = []
    steps = [Played(kind, log) for kind in (Retag, Migrate, Restart, Smoke, Notify)]
    assert [s.name for s in put_back_order(steps)] == ["retag", "migrate", "restart", "smoke", "notify"]
    assert Restart.put_back_after == ("retag",)  # a new deployment resolves the release tag: it must be back first


@dataclass
class Stopped(Played):
    def run(self, target) -> None:
        self.log.append(f"run {self.name}")
        raise KeyboardInterrupt


def test_the_journal_keeps_each_steps_outcome_and_timing_and_ctrl_c_is_recorded_as_such():
    from tasks.core.errors import Interrupted
    from tasks.core.record import outcome_of

    log: list[str] = []
    run = target(log)
    plan = Plan("deploy", [Played(Retag, log), Stopped(Restart, log), Played(Smoke, log)])
    with pytest.raises(Interrupted) as stopped:
        execute(plan, run)
    journal = run.journal
    assert [(e.name, e.outcome) for e in journal.steps] == [("retag", "done"), ("restart", "interrupted")]
    assert all(e.seconds is not None and e.started_at for e in journal.steps)
    assert journal.put_back_outcome == "not attempted" and journal.put_back == []
    outcome = outcome_of(stopped.value)
    assert (outcome.result, outcome.exit_status) == ("interrupted", 130)


def test_the_journal_says_which_put_back_failed_and_which_were_not_reached():
    log: list[str] = []
    run = target(log)

    @dataclass
    class Stuck(Played):
        def put_back(self, target) -> None:
            raise DeployError("denied")

    plan = Plan("deploy", [Stuck(Retag, log), Played(Migrate, log), Played(Restart, log, True)])
    with pytest.raises(DeployError):
        execute(plan, run)
    assert run.journal.put_back_outcome == "incomplete"
    assert run.journal.put_back == [{"name": "retag", "outcome": "failed", "error": "denied"},
                                    {"name": "migrate", "outcome": "not reached", "error": None},
                                    {"name": "restart", "outcome": "not reached", "error": None}]
