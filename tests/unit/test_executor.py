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
    return SimpleNamespace(clock=FakeClock(), say=lambda line: None, env=env, writes=NO_RETRY, put_back_timeout=60)


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
