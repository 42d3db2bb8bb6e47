"""Seed the emulated AWS with what a real account would hold before a deploy, through the AWS API itself.

The building blocks (an image manifest, the default network, a task definition, a service as the ECS console
makes it) serve the sandbox's `seed` and the test suite's worlds alike, so moto's gaps are worked around once.

Assumptions (moto 5.2.5): ECR derives an image digest from its layer digests,
so the two builds get different layers; `run_task` with awsvpc needs the default VPC's subnets and security
group; every container definition needs `memory`. Services start as a finished rollout (COMPLETED, all tasks
running) through `EcsEmulator.settle`, since moto leaves a new service IN_PROGRESS forever.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import settings

MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass(frozen=True)
class World:
    """What was seeded: names a test or a printout needs."""

    account: str
    region: str
    repository: str
    repository_uri: str
    current_sha: str
    current_digest: str
    new_sha: str
    new_digest: str
    cluster: str
    services: tuple[str, ...]
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    migration_task_definition: str
    log_group: str

    @property
    def image(self) -> str:
        """What every task definition runs: the release tag, resolved by ECS at each new deployment."""
        return f"{self.repository_uri}:{settings.RELEASE_TAG}"


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def image_manifest(build: str, media_type: str = MANIFEST_MEDIA_TYPE) -> str:
    """A manifest: a shared base layer and one layer of its own, so each build has its own digest."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1480,
                "digest": _sha256(f"config {build}"),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 29_126_484,
                    "digest": _sha256("base layer: python:3.12-slim"),
                },
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 4_212_310,
                    "digest": _sha256(f"application layer {build}"),
                },
            ],
        },
        separators=(",", ":"),
    )


def seed(clients: Any, services: Mapping[str, int] = settings.SERVICES, *,
         controllers: Mapping[str, str] | None = None, circuit_breaker: bool = True,
         configurations: Mapping[str, Mapping[str, Any]] | None = None) -> World:
    """Create the repository, images, cluster, task definitions, services and log group.

    `clients(name)` returns a boto3 client for the emulated AWS; `services` maps each service's name to its
    desired task count, `controllers` a service to its deployment controller where it is not ECS,
    `circuit_breaker` whether the services' deployments have one (with rollback), and `configurations` a
    service to what its deploymentConfiguration adds to the rolling one (a strategy, its bake, hooks, alarms).
    """
    account = clients("sts").get_caller_identity()["Account"]
    ecr, ecs, ec2, logs = clients("ecr"), clients("ecs"), clients("ec2"), clients("logs")

    repo = ecr.create_repository(repositoryName=settings.REPOSITORY, imageTagMutability="MUTABLE")["repository"]
    digests = {}
    for build, tags in (
        (settings.CURRENT_SHA, (settings.CURRENT_SHA, settings.RELEASE_TAG)),
        (settings.NEW_SHA, (settings.NEW_SHA,)),
    ):
        for tag in tags:
            image = ecr.put_image(
                repositoryName=settings.REPOSITORY,
                imageManifest=image_manifest(build),
                imageManifestMediaType=MANIFEST_MEDIA_TYPE,
                imageTag=tag,
            )["image"]
            digests[build] = image["imageId"]["imageDigest"]

    network = default_network(ec2)
    subnets = tuple(network["awsvpcConfiguration"]["subnets"])
    groups = tuple(network["awsvpcConfiguration"]["securityGroups"])

    logs.create_log_group(logGroupName=settings.LOG_GROUP)
    ecs.create_cluster(clusterName=settings.CLUSTER)
    image = f"{repo['repositoryUri']}:{settings.RELEASE_TAG}"
    for family, command, prefix in (
        *((f"sandbox-{name}", _service_command(name), name) for name in services),
        (settings.MIGRATION_TASK_DEFINITION, ["python", "manage.py", "help"], "migrate"),
    ):
        ecs.register_task_definition(**task_definition(family, settings.CONTAINER, image, settings.LOG_GROUP,
                                                       settings.REGION, prefix, command=command, account=account))
    deployment = rolling(circuit_breaker)
    for name, desired in services.items():
        create_service(ecs, settings.CLUSTER, name, f"sandbox-{name}", desired, network,
                       {**deployment, **(configurations or {}).get(name, {})},
                       controller=(controllers or {}).get(name, "ECS"))
    return World(
        account=account,
        region=settings.REGION,
        repository=settings.REPOSITORY,
        repository_uri=repo["repositoryUri"],
        current_sha=settings.CURRENT_SHA,
        current_digest=digests[settings.CURRENT_SHA],
        new_sha=settings.NEW_SHA,
        new_digest=digests[settings.NEW_SHA],
        cluster=settings.CLUSTER,
        services=tuple(services),
        subnets=subnets,
        security_groups=groups,
        migration_task_definition=settings.MIGRATION_TASK_DEFINITION,
        log_group=settings.LOG_GROUP,
    )


def _service_command(name: str) -> list[str]:
    if name == "web":
        return ["gunicorn", "app.wsgi", "--bind", "0.0.0.0:8000"]
    return ["celery", "-A", "app", "worker"]


def default_network(ec2: Any) -> dict[str, Any]:
    """The awsvpc settings of the default VPC (two subnets, its default group): moto's `run_task` needs a VPC
    with DNS hostnames, which its default VPC has."""
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    groups = [g["GroupId"] for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]]
    return {"awsvpcConfiguration": {"subnets": subnets[:2], "securityGroups": groups, "assignPublicIp": "DISABLED"}}


def rolling(circuit_breaker: bool = True) -> dict[str, Any]:
    """ECS rolling updates as its console sets them up: the circuit breaker (with rollback) on."""
    return {"deploymentCircuitBreaker": {"enable": circuit_breaker, "rollback": circuit_breaker},
            "maximumPercent": 200, "minimumHealthyPercent": 100}


def create_service(ecs: Any, cluster: str, name: str, family: str, desired: int, network: Mapping[str, Any],
                   deployment: Mapping[str, Any], controller: str = "ECS") -> None:
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=family, desiredCount=desired,
                       launchType="FARGATE", networkConfiguration=network,
                       deploymentController={"type": controller}, deploymentConfiguration=deployment)
    # moto 5.2.5's create_service drops deploymentConfiguration; its update_service keeps it
    ecs.update_service(cluster=cluster, service=name, deploymentConfiguration=deployment)


def task_definition(family: str, container: str, image: str, log_group: str, region: str, prefix: str, *,
                    command: list[str] | None = None, account: str | None = None) -> dict[str, Any]:
    """A Fargate task definition of one essential container logging with awslogs to `log_group`."""
    definition: dict[str, Any] = {
        "name": container,
        "image": image,
        "essential": True,
        "memory": 512,  # moto's run_task fails on a container definition without memory or memoryReservation
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": log_group, "awslogs-region": region, "awslogs-stream-prefix": prefix},
        },
    }
    if command:
        definition["command"] = command
    request: dict[str, Any] = {"family": family, "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
                               "cpu": "256", "memory": "512", "containerDefinitions": [definition]}
    if account:
        request["executionRoleArn"] = f"arn:aws:iam::{account}:role/ecsTaskExecutionRole"
    return request
