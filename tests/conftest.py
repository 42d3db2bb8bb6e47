"""Shared fixtures: fake credentials, a fake clock, and an emulated AWS world (moto, in-process).

The world is what a real team has: an ECR repository whose `latest` is the current release and which
holds a new build, a Fargate cluster with `web` and `worker` services running `acme-app:latest` and
logging with awslogs, and a migration task definition. moto does not roll deployments, run containers
or write logs (moto 5.2.5), so tests play ECS's part through `FakeClock.on_sleep`
callbacks that change moto's backend between polls: time passes only when the code under test sleeps.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

# Known fake secrets: the secret-hygiene tests look for these strings in every output.
FAKE_ACCESS_KEY = "AKIAFAKEKEY1234567890"
FAKE_SECRET_KEY = "fake/secret+Key0123456789abcdefghijklmnop"
FAKE_SLEUTH_TOKEN = "sleuth-token-0123456789abcdef-do-not-print"
REGION = "us-east-1"
ACCOUNT = "123456789012"
OLD_SHA = "aaaaaaa"
NEW_SHA = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
NEW_TAG = "20261126.060512-bbbbbbb"

os.environ.update(
    AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY=FAKE_SECRET_KEY,
    AWS_DEFAULT_REGION=REGION,
    AWS_REGION=REGION,
)
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)


def manifest(number: int, media_type: str = "application/vnd.docker.distribution.manifest.v2+json") -> str:
    """An image manifest whose digest differs per `number` (moto derives digests from layers)."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1000 + number,
                "digest": f"sha256:{number:064x}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 2000 + number,
                    "digest": f"sha256:{number + 10_000:064x}",
                }
            ],
        }
    )


@dataclass
class Clock:
    """FakeClock plus ECS's part: callbacks run at every sleep, so emulated AWS moves only between polls."""

    inner: Any
    on_sleep: list[Callable[[], None]] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.inner.monotonic()

    def now(self) -> Any:
        return self.inner.now()

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
        for callback in list(self.on_sleep):
            callback()

    @property
    def sleeps(self) -> list[float]:
        return self.inner.sleeps


@pytest.fixture
def clock() -> Clock:
    from tasks.core.clock import FakeClock

    return Clock(FakeClock())


CONFIG: dict[str, Any] = {
    "repository": "acme-app",
    "region": REGION,
    "timeout": 600,
    "poll_interval": 5,
    "environments": {
        "staging": {
            "cluster": "acme-staging",
            "services": ["web", "worker"],
            "release_tag": "latest",
            "migrate": {"command": ["python", "manage.py", "migrate"], "task_definition": "acme-migrate"},
        },
        "production": {
            "cluster": "acme-production",
            "services": ["web", "worker"],
            "release_tag": "production",
        },
    },
    "sleuth": {"org": "acme", "deployment": "acme-app"},
}


class World:
    """Emulated AWS with the team's resources, and ways to play ECS's part."""

    def __init__(self) -> None:
        from tasks.core.aws import connect

        session = connect(REGION).session  # shares the service models the code under test loads
        self.ecr = session.client("ecr")
        self.ecs = session.client("ecs")
        self.logs = session.client("logs")
        self.ec2 = session.client("ec2")
        self.ssm = session.client("ssm")
        self.output: list[str] = []
        self.old_digest = self._push(1, OLD_SHA, "latest")
        self.new_digest = self._push(2, NEW_TAG, NEW_SHA)
        subnets = [s["SubnetId"] for s in self.ec2.describe_subnets()["Subnets"] if s.get("DefaultForAz")][:2]
        groups = self.ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
        self.network = {
            "awsvpcConfiguration": {
                "subnets": subnets,
                "securityGroups": [groups[0]["GroupId"]],
                "assignPublicIp": "DISABLED",
            }
        }
        self.logs.create_log_group(logGroupName="/ecs/acme")
        clusters = (("acme-staging", "acme", "latest"), ("acme-production", "acme-prod", "production"))
        for cluster, family, tag in clusters:
            self.ecs.create_cluster(clusterName=cluster)
            for service, count in (("web", 2), ("worker", 1)):
                self._task_definition(f"{family}-{service}", service, tag=tag)
                self.ecs.create_service(
                    cluster=cluster,
                    serviceName=service,
                    taskDefinition=f"{family}-{service}",
                    desiredCount=count,
                    launchType="FARGATE",
                    networkConfiguration=self.network,
                )
        self._task_definition("acme-migrate", "app", prefix="migrate")
        self._new_deployments_start_in_progress()

    def _new_deployments_start_in_progress(self) -> None:
        """moto keeps a forced deployment's old rollout state; real ECS starts it IN_PROGRESS with no task."""
        backend = self.backend
        update = backend.update_service

        def update_service(properties: dict[str, Any]) -> Any:
            forced = properties.get("force_new_deployment")
            service = update(properties)
            if forced and service.deployments:
                service.deployments[0].update(rolloutState="IN_PROGRESS", runningCount=0,
                                              pendingCount=service.desired_count)
            return service

        backend.update_service = update_service

    def _push(self, number: int, *tags: str) -> str:
        return [self.ecr_put(number, tag) for tag in tags][0]

    def ecr_put(self, number: int, tag: str) -> str:
        try:
            self.ecr.create_repository(repositoryName="acme-app")
        except self.ecr.exceptions.RepositoryAlreadyExistsException:
            pass
        response = self.ecr.put_image(repositoryName="acme-app", imageManifest=manifest(number), imageTag=tag)
        return response["image"]["imageId"]["imageDigest"]

    def _task_definition(self, family: str, container: str, prefix: str | None = None, tag: str = "latest") -> None:
        self.ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": container,
                    "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/acme-app:{tag}",
                    "memory": 512,
                    "essential": True,
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": "/ecs/acme",
                            "awslogs-region": REGION,
                            "awslogs-stream-prefix": prefix or container,
                        },
                    },
                }
            ],
        )

    # --- reading state, as a user would check it -------------------------------------------------
    def digest_of(self, tag: str) -> str | None:
        response = self.ecr.batch_get_image(repositoryName="acme-app", imageIds=[{"imageTag": tag}])
        images = response["images"]
        return images[0]["imageId"]["imageDigest"] if images else None

    @property
    def backend(self) -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[ACCOUNT][REGION]

    def service(self, name: str, cluster: str = "acme-staging") -> Any:
        return self.backend.services[f"{cluster}:{name}"]

    def deployment_ids(self, cluster: str = "acme-staging") -> dict[str, str]:
        return {name: self.service(name, cluster).deployments[0]["id"] for name in ("web", "worker")}

    # --- playing ECS's part -----------------------------------------------------------------------
    def complete_rollouts(self, cluster: str = "acme-staging") -> Callable[[], None]:
        """A callback: every service's primary deployment finishes."""

        def step() -> None:
            for name in ("web", "worker"):
                deployment = self.service(name, cluster).deployments[0]
                deployment["rolloutState"] = "COMPLETED"
                deployment["runningCount"] = deployment["desiredCount"]
                deployment["pendingCount"] = 0

        return step

    def migration_tasks(self, cluster: str = "acme-staging") -> list[Any]:
        return [t for t in self.backend.tasks.get(cluster, {}).values() if t.task_definition_arn.endswith(
            "acme-migrate:1")]

    def migration_logs(self, lines: list[str], cluster: str = "acme-staging") -> Callable[[], None]:
        """A callback: the migration task writes `lines` to its awslogs stream, once."""
        written: set[str] = set()

        def step() -> None:
            for task in self.migration_tasks(cluster):
                if task.id in written:
                    continue
                written.add(task.id)
                stream = f"migrate/app/{task.id}"
                now_ms = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
                self.logs.create_log_stream(logGroupName="/ecs/acme", logStreamName=stream)
                self.logs.put_log_events(
                    logGroupName="/ecs/acme",
                    logStreamName=stream,
                    logEvents=[{"timestamp": now_ms + i, "message": line} for i, line in enumerate(lines)],
                )

        return step

    def context(self, clock: Any, env: str = "staging", config: dict[str, Any] | None = None) -> Any:
        from tasks.core.aws import connect
        from tasks.core.config import load_settings
        from tasks.core.release import Context

        settings = load_settings(config or CONFIG)
        return Context.connect(settings.environment(env), connect(REGION), clock, self.output.append)


@pytest.fixture
def project(tmp_path: Any, monkeypatch: Any, clock: Clock) -> Any:
    """An application repository: a one-line fabfile and its fabric.yaml; waits use the fake clock."""
    (tmp_path / "fabfile.py").write_text("from tasks import ns  # noqa: F401\n")
    (tmp_path / "fabric.yaml").write_text(yaml.safe_dump({"deploy": CONFIG}))
    monkeypatch.chdir(tmp_path)
    import tasks._runtime

    monkeypatch.setattr(tasks._runtime, "make_clock", lambda: clock)
    return tmp_path


def fab(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """Run the real `fab` program in this process: (exit status, stdout, stderr)."""
    from fabric.main import make_program

    try:
        make_program().run(["fab", *argv])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def issued_credentials() -> list[str]:
    """Every access key id, secret key and session token moto's STS has issued (an assumed role, a web identity)."""
    from moto.sts.models import sts_backends

    return [secret for account in sts_backends.values() for backend in account.values()
            for role in backend.assumed_roles
            for secret in (role.access_key_id, role.secret_access_key, role.session_token)]


@pytest.fixture
def world() -> Iterator[World]:
    from moto import mock_aws

    with mock_aws():
        yield World()
