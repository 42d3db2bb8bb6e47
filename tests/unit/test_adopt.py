"""`fab init`'s judgement of one service, and how it writes values: pure, no AWS."""

from __future__ import annotations

import pytest
import yaml

from tasks.core import adopt
from tasks.core.ecs import Container, Service, TaskDefinition
from tasks.core.errors import DeployError

ACCOUNT, REGION = "123456789012", "us-east-1"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


def service(strategy: str = "ROLLING", breaker: bool = True) -> Service:
    return Service(name="web", arn="", status="ACTIVE", desired=2, running=2, task_definition="acme-web:3",
                   deployments=(), events=(), network_configuration=None, capacity_provider_strategy=(),
                   platform_version=None, deployment_configuration={
                       "strategy": strategy, "deploymentCircuitBreaker": {"enable": breaker}})


def definition(*images: str) -> TaskDefinition:
    return TaskDefinition(arn="arn:aws:ecs:us-east-1:123456789012:task-definition/acme-web:3", containers=tuple(
        Container(name=f"c{i}", image=image, essential=i == 0, log=None) for i, image in enumerate(images)))


@pytest.mark.parametrize(("images", "strategy", "reason"), [
    ((f"{REGISTRY}/acme-app",), "ROLLING", "runs acme-app with no tag: name a moving tag"),
    ((f"{REGISTRY}/acme-app:v1.4.2",), "ROLLING", "runs acme-app:v1.4.2, the tag of one build"),
    ((f"{REGISTRY}/acme-app:abc1234",), "ROLLING", "runs acme-app:abc1234, the tag of one build"),
    ((f"{REGISTRY}/acme-app:latest", f"{REGISTRY}/acme-app:stable"), "ROLLING",
     "runs acme-app:latest and acme-app:stable: one service runs one tag of a repository"),
])
def test_a_service_that_cannot_be_deployed_by_moving_a_tag_gets_the_reason(images, strategy, reason):
    found = adopt._judge(service(strategy), definition(*images), ACCOUNT, REGION)
    assert found.reason is not None and found.reason.startswith(reason), found.reason
    assert found.pair is None


@pytest.mark.parametrize("strategy", ["BLUE_GREEN", "LINEAR", "CANARY"])
def test_a_blue_green_linear_or_canary_service_on_a_moving_tag_is_deployable(strategy):
    found = adopt._judge(service(strategy), definition(f"{REGISTRY}/acme-app:latest"), ACCOUNT, REGION)
    assert (found.reason, found.pair) == (None, ("acme-app", "latest"))


def test_a_rolling_service_on_a_moving_ecr_tag_is_deployable_with_notes_on_what_it_lacks():
    found = adopt._judge(service(breaker=False), definition("datadog/agent:7", f"{REGISTRY}/team/acme-app:latest"),
                         ACCOUNT, REGION)
    assert (found.reason, found.pair, found.container) == (None, ("team/acme-app", "latest"), "c1")
    assert found.notes == ("no circuit breaker: a failing rollout runs until the timeout",
                           "container c1 logs no awslogs: a migration's output cannot be shown")


def test_image_references_environment_names_and_values_as_written():
    assert adopt.ecr_image(f"{REGISTRY}/acme-app:latest") == adopt.Image(ACCOUNT, REGION, "acme-app", "latest", None)
    assert adopt.ecr_image("ghcr.io/acme/app:latest") is None
    assert [adopt.guess_environment(c) for c in ("acme-production", "acme_staging", "acme")] == [
        "production", "staging", "acme"]
    for value in ("123456789012", "yes", "https://x.example/healthz", "a b", "latest", "/ecs/acme", ["on", "web"]):
        assert yaml.safe_load(f"key: {adopt.scalar(value)}")["key"] == value


def test_a_key_the_schema_does_not_declare_is_never_written():
    lines = adopt._Lines()
    lines.key(4, ("environments", "qa", "cluster"), "acme-qa")
    with pytest.raises(KeyError, match="deploy.environments.qa.clustr is not a key of the config schema"):
        lines.key(4, ("environments", "qa", "clustr"), "acme-qa")


def survey(repository: str = "acme-app") -> adopt.Survey:
    web = adopt.Found(name="web", task_definition="acme-qa-web:1", container="app",
                      image=adopt.Image(ACCOUNT, REGION, repository, "qa", None))
    return adopt.Survey(cluster="acme-qa", region=REGION, account=ACCOUNT, services=[web], repository=repository,
                        release_tag="qa")


def test_an_environment_is_added_only_to_a_block_mapping_and_names_its_own_repository_where_it_differs():
    flow = "deploy: {repository: acme-app, environments: {staging: {cluster: s, services: [web]}}}\n"
    with pytest.raises(DeployError, match=r"^fabric.yaml: deploy.environments is not a block mapping"):
        adopt.added_environment(flow, yaml.safe_load(flow), survey(), "qa", "fabric.yaml")
    block = "deploy:\n  repository: acme-app\n  environments:\n    staging:\n      cluster: s\n      services: [web]\n"
    same = yaml.safe_load(adopt.added_environment(block, yaml.safe_load(block), survey(), "qa", "fabric.yaml"))
    assert "repository" not in same["deploy"]["environments"]["qa"]
    other = yaml.safe_load(adopt.added_environment(block, yaml.safe_load(block), survey("acme-api"), "qa", "f"))
    assert (other["deploy"]["environments"]["qa"]["repository"], other["deploy"]["repository"]) == (
        "acme-api", "acme-app")
    with pytest.raises(DeployError, match="^f has no deploy section"):
        adopt.added_environment("other: 1\n", {"other": 1}, survey(), "qa", "f")
