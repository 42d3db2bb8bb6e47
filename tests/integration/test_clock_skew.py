"""This machine's clock against ECS's: finding the deployment our UpdateService started when its answer was lost.

ECS stamps a deployment's `createdAt` with its own clock; a lost answer (a read timeout after ECS applied the
request) is re-read, and the PRIMARY deployment counts as ours when it is not the one the preflight saw and ECS
created it no more than `SKEW` (5 s) before this machine sent the request. The emulated ECS stamps with the real
time; the clock here runs ahead of it (or behind) by a set offset, and its sleeps move the emulator as usual.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from conftest import NEW_SHA, NEW_TAG

from tasks.core import planner, rollout
from tasks.core.ecs import SKEW
from tasks.core.executor import execute
from tasks.core.steps.restart import Restart


@dataclass
class Skewed:
    """The world's clock (its sleeps move ECS), whose `now()` runs `offset` seconds ahead of ECS's (behind: < 0)."""

    inner: Any
    offset: float

    def monotonic(self) -> float:
        return self.inner.monotonic()

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=self.offset)


def lose_answers(client: Any, *, applied: bool) -> list[str]:
    """Each service's first UpdateService answer is lost: after ECS applied it (`applied`), or before it left
    (the request never reached ECS). Returns the services whose answer was lost, as it happens."""
    lost: list[str] = []
    guard = threading.Lock()

    def note(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["test-service"] = params["service"]

    def lose(context: dict[str, Any], **_: Any) -> None:
        with guard:
            if context["test-service"] in lost:
                return
            lost.append(context["test-service"])
        raise ReadTimeoutError(endpoint_url="https://ecs.us-east-1.amazonaws.com/")

    client.meta.events.register("before-parameter-build.ecs.UpdateService", note)
    client.meta.events.register("after-call.ecs.UpdateService" if applied else "before-call.ecs.UpdateService", lose)
    return lost


def started(world: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for service, deployment_id in world.emulator.started_deployments:
        found.setdefault(service, []).append(deployment_id)
    return found


def deploy_with(world: Any, clock: Any, offset: float, *, applied: bool = True) -> tuple[Any, Any, list[str]]:
    target = world.target(Skewed(clock, offset))
    lost = lose_answers(target.cluster.client, applied=applied)
    plan = planner.deploy(target, sha=NEW_SHA, tag=NEW_TAG)
    execute(plan, target)
    return target, plan, lost


def test_a_clock_4_s_ahead_still_finds_the_deployment_whose_answer_was_lost_and_judges_it(world, clock):
    assert SKEW == timedelta(seconds=5)
    target, plan, lost = deploy_with(world, clock, 4.0)
    assert sorted(lost) == ["web", "worker"]
    ours = started(world)
    assert {name: len(ids) for name, ids in ours.items()} == {"web": 1, "worker": 1}  # none sent twice
    restart = plan.step(Restart)
    assert {r.service: (r.deployment_id, r.state) for r in restart.rollouts.values()} == {
        name: (ids[0], rollout.COMPLETED) for name, ids in ours.items()}
    assert restart.verified
    assert not [line for line in world.output if "clock runs" in line]


def test_a_clock_10_s_ahead_still_takes_the_new_primary_and_says_the_clock_is_off(world, clock):
    target, plan, lost = deploy_with(world, clock, 10.0)
    ours = started(world)
    assert {name: len(ids) for name, ids in ours.items()} == {"web": 1, "worker": 1}  # not taken for unlanded
    restart = plan.step(Restart)
    assert all(r.state == rollout.COMPLETED for r in restart.rollouts.values()) and restart.verified
    for name in ("web", "worker"):
        (line,) = [line for line in world.output if line.startswith(f"    {name}: PRIMARY deployment ")]
        assert line.startswith(f"    {name}: PRIMARY deployment {ours[name][0]} is new since the preflight, so ours, "
                               "though ECS created it 10s before this machine sent UpdateService"), line
        assert line.endswith("this machine's clock runs more than 5s ahead of AWS's (check NTP)")


@pytest.mark.parametrize("offset", [10.0, -3600.0])
def test_a_request_that_never_landed_is_sent_again_whatever_the_clock(world, clock, offset):
    """The preflight's PRIMARY is never taken for ours, even with a clock an hour behind (for which the time
    alone would call the seeded deployment recent enough)."""
    before = world.deployment_ids()
    target, plan, lost = deploy_with(world, clock, offset, applied=False)
    assert sorted(lost) == ["web", "worker"]
    ours = started(world)
    assert {name: len(ids) for name, ids in ours.items()} == {"web": 1, "worker": 1}
    restart = plan.step(Restart)
    for name, r in restart.rollouts.items():
        assert r.deployment_id == ours[name][0] != before[name] and r.state == rollout.COMPLETED
    assert not [line for line in world.output if "clock runs" in line]


def test_without_the_preflight_s_primary_a_clock_10_s_ahead_sends_the_request_again(world, clock):
    """Where nothing says which deployment was PRIMARY before (a put-back), only the time can tell; past the
    allowance the request is sent again: a second deployment, which the rollout follows to the end."""
    target = world.target(Skewed(clock, 10.0))
    lost = lose_answers(target.cluster.client, applied=True)
    rollouts = rollout.start(target.cluster, ["web"], target.clock, target.say)
    rollout.wait(target.cluster, rollouts, target.clock, timeout=600, interval=5, say=target.say)
    assert lost == ["web"]
    (first, second) = started(world)["web"]
    assert rollouts["web"].deployment_id == second and rollouts["web"].state == rollout.COMPLETED
