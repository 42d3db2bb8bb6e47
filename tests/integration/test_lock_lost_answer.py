"""The deploy lock when SSM's answer to its creation is lost (a read timeout, a proxy cutting the 200 short): read
back, so a lock SSM did write is this run's, and one it did not is an error, never a stranger's lock left behind."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from tasks.core.aws import AwsError


def lose_put(client: Any, event: str) -> None:
    def lose(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://ssm.us-east-1.amazonaws.com/")

    client.meta.events.register(f"{event}.ssm.PutParameter", lose)


def parameters(world: Any) -> list[str]:
    return [p["Name"] for p in world.ssm.get_parameters_by_path(Path="/", Recursive=True)["Parameters"]]


def test_a_lock_written_whose_answer_was_lost_is_this_run_s_and_is_freed(world, clock):
    target = world.target(clock)
    lose_put(target.lock.client, "after-call")  # SSM wrote it; the answer never came back
    mine = target.lock.acquire("deploy", "abc1234", hold=600)
    assert target.lock.held == mine
    assert parameters(world) == [target.lock.name]
    assert target.lock.release() is None and parameters(world) == []


def test_a_lock_never_written_is_an_error_and_leaves_nothing_behind(world, clock):
    target = world.target(clock)
    lose_put(target.lock.client, "before-call")  # the request never reached SSM
    with pytest.raises(AwsError, match="ssm:PutParameter timed out"):
        target.lock.acquire("deploy", "abc1234", hold=600)
    assert target.lock.held is None and parameters(world) == []
