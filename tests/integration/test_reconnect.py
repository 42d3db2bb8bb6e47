"""A target's gateways moved onto a new session after AWS refused the credentials as expired (moto, a credentials
file the test rewrites as a refresher would): what the new session reads, what each gateway keeps."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIG

from tasks.core.aws import clients_for
from tasks.core.errors import DeployError

OLD, FRESH = "AKIAOLDKEYBEFORE0001", "AKIAFRESHKEYAFTER002"


def write(path: Path, key: str) -> None:
    path.write_text(f"[default]\naws_access_key_id = {key}\naws_secret_access_key = secret-of-{key}\n")


@pytest.fixture
def credentials(tmp_path: Path, monkeypatch: Any) -> Path:
    """fab's credentials in a shared credentials file, none in its environment."""
    path = tmp_path / "credentials"
    write(path, OLD)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    return path


def test_other_credentials_from_the_chain_move_every_gateway_and_keep_what_each_holds(world, clock, credentials):
    target = world.target(clock)
    target.lock.acquire("deploy", "abc1234", hold=600)
    held, old_ecs = target.lock.held, target.cluster.client
    write(credentials, FRESH)

    assert target.reconnect() is True
    assert target.cluster.client is not old_ecs and target.registry.client is not old_ecs
    assert clients_for(target.env.region).access_key_id() == FRESH  # later calls share the new session
    assert target.lock.held == held  # the lock it holds is still known, and freed on the new session
    assert target.lock.release() is None
    assert world.ssm.get_parameters_by_path(Path="/", Recursive=True)["Parameters"] == []
    assert target.cluster.services(["web"])["web"].name == "web"


def test_the_same_credentials_again_change_nothing(world, clock, credentials):
    target = world.target(clock)
    before = (target.cluster.client, target.registry.client)
    assert target.reconnect() is False
    assert (target.cluster.client, target.registry.client) == before


def test_fresh_credentials_of_another_account_are_refused_before_any_gateway_uses_them(world, clock, credentials):
    config = copy.deepcopy(CONFIG)
    config["environments"]["staging"]["account"] = "999999999999"  # moto answers 123456789012
    target = world.target(clock, config=config)
    before = target.cluster.client
    write(credentials, FRESH)
    with pytest.raises(DeployError, match="wrong AWS account"):
        target.reconnect()
    assert target.cluster.client is before


def test_a_restart_put_back_refused_as_expired_is_marked_so_and_restarts_those_services_when_tried_again(
    world, clock,
):
    """UpdateService refused: the services are NOT_STARTED, the step's error carries the expired refusal (so the
    executor tries the put-back again on fresh credentials), and that second try starts them."""
    from botocore.exceptions import ClientError
    from conftest import NEW_SHA, NEW_TAG

    from tasks.core import planner
    from tasks.core.aws import expired_at
    from tasks.core.executor import execute
    from tasks.core.steps.restart import Restart
    from tasks.core.steps.retag import Retag

    target = world.target(clock)
    plan = planner.deploy(target, sha=NEW_SHA, tag=NEW_TAG)
    execute(plan, target)
    plan.step(Retag).put_back(target)  # the release tag back first, as the executor orders it
    restart = plan.step(Restart)

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ExpiredTokenException", "Message": "The security token included in "
                                     "the request is expired"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
                          "UpdateService")

    client = target.cluster.client
    client.meta.events.register("before-call.ecs.UpdateService", refuse)
    with pytest.raises(DeployError) as caught:
        restart.put_back(target)
    assert str(caught.value).startswith("services not put back: web NOT_STARTED - AWS credentials have expired")
    assert expired_at(caught.value) is not None
    client.meta.events.unregister("before-call.ecs.UpdateService", refuse)
    restart.put_back(target)
    assert restart.put_back_done
    assert world.running_images() == {"web": {world.old_digest}, "worker": {world.old_digest}}
