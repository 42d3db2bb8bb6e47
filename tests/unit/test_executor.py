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


@dataclass
class ExpiresOnPutBack(Played):
    """Its put-back meets AWS refusing the credentials as expired `times` times, then works."""

    times: int = 1

    def put_back(self, target) -> None:
        from botocore.exceptions import ClientError

        from tasks.core.aws import translate

        self.log.append(f"put back {self.name}")
        if self.times > 0:
            self.times -= 1
            expired = {"Error": {"Code": "ExpiredTokenException", "Message": "expired"},
                       "ResponseMetadata": {"HTTPStatusCode": 400}}
            raise translate(ClientError(expired, "PutImage"), "ecr:PutImage")


def expiring(log: list[str], fresh: bool | DeployError, times: int = 1) -> tuple[Plan, SimpleNamespace, list[str]]:
    said: list[str] = []
    t = target(log)
    t.say = said.append

    def reconnect() -> bool:
        log.append("reconnect")
        if isinstance(fresh, DeployError):
            raise fresh
        return fresh

    t.reconnect = reconnect
    plan = Plan("deploy", [ExpiresOnPutBack(Retag, log, times=times), Played(Restart, log, fails=True)])
    return plan, t, said


def test_a_put_back_refused_as_expired_is_tried_once_more_on_fresh_credentials():
    log: list[str] = []
    plan, t, said = expiring(log, fresh=True)
    with pytest.raises(DeployError, match="restart failed: it broke"):
        execute(plan, t)
    assert log[2:] == ["put back retag", "reconnect", "put back retag", "put back restart"]
    assert [line for line in said if "credentials expired" in line] == [
        "    credentials expired at ecr:PutImage (06:00:00 UTC); put-back on fresh credentials"]
    assert any(line.startswith("==> put back in ") for line in said), said


def test_expired_again_on_fresh_credentials_is_not_tried_a_third_time():
    log: list[str] = []
    plan, t, said = expiring(log, fresh=True, times=2)
    with pytest.raises(DeployError):
        execute(plan, t)
    assert log[2:] == ["put back retag", "reconnect", "put back retag"]
    assert any(line.startswith("    could NOT put back retag: AWS credentials have expired") for line in said)
    assert any(line.startswith("==> put-back INCOMPLETE") for line in said), said


@pytest.mark.parametrize(("fresh", "why"), [
    (False, "the credential chain gives the same ones again: nothing here can refresh them"),
    (DeployError("wrong AWS account: ..."), "no fresh ones could be had: wrong AWS account: ..."),
])
def test_credentials_the_chain_cannot_refresh_leave_the_put_back_to_the_commands_by_hand(fresh, why):
    log: list[str] = []
    plan, t, said = expiring(log, fresh=fresh)
    with pytest.raises(DeployError):
        execute(plan, t)
    assert log[2:] == ["put back retag", "reconnect"]  # not tried again
    assert f"    credentials expired at ecr:PutImage (06:00:00 UTC); {why}" in said
    assert any(line.startswith("==> put-back INCOMPLETE") for line in said), said


def test_a_put_back_failing_otherwise_never_reconnects():
    log: list[str] = []

    @dataclass
    class Broken(Played):
        def put_back(self, target) -> None:
            raise DeployError("ECR said no")

    t = target(log)
    t.reconnect = lambda: log.append("reconnect")
    with pytest.raises(DeployError):
        execute(Plan("deploy", [Broken(Retag, log), Played(Restart, log, fails=True)]), t)
    assert "reconnect" not in log
