"""Shared fixtures: fake credentials, a fake clock, and an emulated AWS world (moto, in-process).

The world is what a real team has: an ECR repository whose `latest` is the current release and which
holds a new build, a Fargate cluster with `web` and `worker` services running `acme-app:latest` and
logging with awslogs, and a migration task definition. moto does not roll deployments, run containers
or write logs, so the sandbox's ECS emulator (sandbox/ecs.py, the same one `make demo` and the e2e tests
run in real time) plays ECS's part here too, driven by the fake clock: time passes only when the code under
test sleeps, and each sleep advances the emulator by as much. A test scripts ECS through `world.emulator`
(a service's outcome on the new build, the migration's exit code and log lines).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.handlers
import pytest
import yaml

import sandbox  # noqa: F401  first: one copy of AWS's service models for moto and every session (sandbox/models.py)
from sandbox import seed

# Known fake secrets: the secret-hygiene tests look for these strings in every output.
FAKE_ACCESS_KEY = "AKIAFAKEKEY1234567890"
FAKE_SECRET_KEY = "fake/secret+Key0123456789abcdefghijklmnop"
FAKE_SLEUTH_TOKEN = "sleuth-token-0123456789abcdef-do-not-print"
REGION = "us-east-1"
ACCOUNT = "123456789012"
OLD_SHA = "aaaaaaa"
NEW_SHA = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
NEW_TAG = "20261126.060512-bbbbbbb"

# How the team's services deploy: ECS rolling updates with the circuit breaker on, as ECS's console sets them up.
ROLLING = seed.rolling()

MIGRATION_SECONDS = 12.0  # emulated: a migration takes about three polls at the config's 5 s
ROLLOUT_SECONDS = 20.0

os.environ.update(
    AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY=FAKE_SECRET_KEY,
    AWS_DEFAULT_REGION=REGION,
    AWS_REGION=REGION,
    MOTO_EC2_LOAD_DEFAULT_AMIS="false",  # thousands of AMIs nobody here reads, loaded again for every world
)
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)



# How the suite runs fast on few cores (GC thresholds, xdist's workers and scheduling): tests/tuning.py.
pytest_plugins = ["tuning"]

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = str(ROOT / "tasks")
# Actions the deploy policy grants that are no API call of ours: what AWS checks on our calls' behalf.
IMPLIED = {"iam:PassRole"}  # ecs:RunTask hands the task definition's roles to ECS
READS = ("Describe", "List", "Get", "BatchGet")

# --- the AWS calls the code makes, as IAM actions, recorded while the suite runs ------------------------------
RECORDED_ACTIONS: set[str] = set()
# Every such call in order, with its request body (a JSON or form text): how often the code asks for one fact.
PRODUCT_CALLS: list[tuple[str, str]] = []


_SDK = tuple(str(Path(module.__file__).parent) for module in (botocore, __import__("boto3")))
_CREDENTIALS = str(Path("botocore") / "credentials.py")


def _record_product_call(model: Any, params: Any = None, **_: Any) -> None:
    """botocore's `before-call`: keep `service:Operation` when the code that called the SDK is the `tasks`
    package (not a test, not the ECS emulator that a test's fake clock runs from inside the code's waits)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_SDK):
        if frame.f_code.co_filename.endswith(_CREDENTIALS):
            return  # the SDK getting credentials (AssumeRoleWithWebIdentity): the trust policy's business
        frame = frame.f_back
    if frame is not None and frame.f_code.co_filename.startswith(PRODUCT):
        action = f"{model.service_model.signing_name}:{model.name}"
        RECORDED_ACTIONS.add(action)
        body = (params or {}).get("body") or b""
        PRODUCT_CALLS.append((action, body.decode() if isinstance(body, bytes) else str(body)))


# Every botocore session made from now on (the code's and moto's alike) registers it, as moto's own stubber is.
botocore.handlers.BUILTIN_HANDLERS.append(("before-call", _record_product_call))


def _granted(name: str) -> set[str]:
    actions: set[str] = set()
    for statement in json.loads((ROOT / "docs" / name).read_text())["Statement"]:
        value = statement["Action"]
        actions |= {value} if isinstance(value, str) else set(value)
    return actions


def iam_problems(called: Iterable[str], *, whole_suite: bool) -> list[str]:
    """What is wrong between the calls seen and docs/iam-policy.json (every call) and iam-policy-plan.json (the
    reads): a call not granted; with `whole_suite`, also a grant nothing called."""
    called = set(called)
    problems = []
    for name, wanted in (("iam-policy.json", called), ("iam-policy-plan.json",
                                                       {a for a in called if a.split(":")[1].startswith(READS)})):
        granted = _granted(name) - IMPLIED
        problems += [f"{a} is called by the code but not granted in docs/{name}" for a in sorted(wanted - granted)]
        if whole_suite:
            problems += [f"{a} is granted in docs/{name} but the whole suite never saw the code call it"
                         for a in sorted(granted - wanted)]
    return sorted(problems, key=lambda p: (p.split()[0], p))


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """The IAM policies against every call the suite saw the code make: a failure fails the run.

    With pytest-xdist each worker records its own calls and hands them to the controller, which checks them all.
    """
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist worker: report, do not judge
        config.workeroutput["iam_actions"] = sorted(RECORDED_ACTIONS)
        return
    whole = (exitstatus == 0 and not session.shouldstop and not config.option.keyword
             and not config.option.markexpr and not config.getoption("deselect")
             and all(Path(arg).resolve() == ROOT / "tests" for arg in config.args))
    if not RECORDED_ACTIONS:
        return  # no test that calls AWS through the code ran
    problems = iam_problems(RECORDED_ACTIONS, whole_suite=whole)
    if problems:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        for problem in problems:
            reporter.write_line(f"IAM policy check: {problem}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


LAYERS = ("unit", "integration", "e2e", "meta")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Each test is marked with its layer, the folder it lives in: `pytest -m unit` runs the fast ones."""
    for item in items:
        layer = Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))


def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist's controller: a worker is done; keep the calls it recorded."""
    RECORDED_ACTIONS.update(getattr(node, "workeroutput", {}).get("iam_actions", ()))


# --- Sleuth and the application's health URL, stubbed at HTTP with `responses` ------------------------------------
SLEUTH_ENDPOINT = "https://app.sleuth.io/api/1/deployments/acme/acme-app/register_deploy"
SMOKE_URL = "https://staging.example.com/health"
SMOKE_TOKEN = "smoke-token-0123456789-do-not-print"  # a header value read through ${SMOKE_TOKEN}: never printed
SMOKE = {"url": SMOKE_URL, "timeout": 60,
         "headers": {"Authorization": "Bearer ${SMOKE_TOKEN}", "Host": "staging.example.com"}}


def smoke_config(**smoke: Any) -> dict[str, Any]:
    """The team's config, staging with a smoke check."""
    import copy

    config = copy.deepcopy(CONFIG)
    config["environments"]["staging"]["smoke"] = {**SMOKE, **smoke}
    return config


def bearer(token: str) -> Any:
    from responses import matchers

    return matchers.header_matcher({"Authorization": f"Bearer {token}"})


@pytest.fixture
def sleuth_token(monkeypatch: Any) -> None:
    monkeypatch.setenv("SLEUTH_API_TOKEN", FAKE_SLEUTH_TOKEN)
    monkeypatch.delenv("CIRCLE_BUILD_URL", raising=False)


@pytest.fixture
def sleuth_api() -> Iterator[Any]:
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as stub:
        yield stub


def manifest(number: int, media_type: str = "application/vnd.docker.distribution.manifest.v2+json") -> str:
    """An image manifest whose digest differs per `number` (moto derives digests from layers)."""
    from sandbox.seed import image_manifest

    return image_manifest(f"build {number}", media_type)


@dataclass
class Clock:
    """FakeClock plus ECS's part: callbacks get each sleep's seconds, so emulated AWS moves only between polls."""

    inner: Any
    on_sleep: list[Callable[[float], None]] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.inner.monotonic()

    def now(self) -> Any:
        return self.inner.now()

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
        for callback in list(self.on_sleep):
            callback(seconds)

    @property
    def sleeps(self) -> list[float]:
        return self.inner.sleeps


@pytest.fixture
def clock() -> Clock:
    from fakes import FakeClock

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


_CLIENTS: list[Any] = []


def _world_clients() -> list[Any]:
    """The test's own clients, made once: moto answers any client while a mock is active, whenever it was made
    (making five clients costs more than the rest of a world)."""
    if not _CLIENTS:
        from tasks.core.aws import clients_for

        session = clients_for(REGION).session  # shares the service models the code under test loads
        _CLIENTS.extend(session.client(name) for name in ("ecr", "ecs", "logs", "ec2", "ssm"))
    return _CLIENTS


# The first world is built through the API; every later one starts from a copy of what the first left in moto
# (a few milliseconds instead of 26 API calls).
_FIRST_WORLD: dict[str, Any] = {}


class World:
    """Emulated AWS with the team's resources; `emulator` plays ECS, and reads tell what a user would check."""

    def __init__(self) -> None:
        from sandbox import snapshot
        from sandbox.ecs import EcsEmulator

        self.ecr, self.ecs, self.logs, self.ec2, self.ssm = _world_clients()
        self.output: list[str] = []
        if _FIRST_WORLD:
            snapshot.restore(_FIRST_WORLD["backends"], ACCOUNT, REGION)
            self.old_digest, self.new_digest, self.network = _FIRST_WORLD["values"]
        else:
            self._build()
            _FIRST_WORLD.update(backends=snapshot.save(ACCOUNT, REGION),
                                values=(self.old_digest, self.new_digest, self.network))
        self.emulator = EcsEmulator(
            self.backend, self.logs, scenario="success", migration_seconds=MIGRATION_SECONDS,
            rollout_seconds=ROLLOUT_SECONDS, broken={self.new_digest},
        )
        self.emulator.install()
        self.emulator.settle()

    def _build(self) -> None:
        self.old_digest = self._push(1, OLD_SHA, "latest")
        self.new_digest = self._push(2, NEW_TAG, NEW_SHA)
        self.network = seed.default_network(self.ec2)
        self.logs.create_log_group(logGroupName="/ecs/acme")
        clusters = (("acme-staging", "acme", "latest"), ("acme-production", "acme-prod", "production"))
        for cluster, family, tag in clusters:
            self.ecs.create_cluster(clusterName=cluster)
            for service, count in (("web", 2), ("worker", 1)):
                self._task_definition(f"{family}-{service}", service, tag=tag)
                seed.create_service(self.ecs, cluster, service, f"{family}-{service}", count, self.network, ROLLING)
        self._task_definition("acme-migrate", "app", prefix="migrate")

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
        image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/acme-app:{tag}"
        self.ecs.register_task_definition(**seed.task_definition(family, container, image, "/ecs/acme", REGION,
                                                                 prefix or container))

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

    def running_images(self, cluster: str = "acme-staging") -> dict[str, set[str | None]]:
        """Each service's running tasks' image digests, read through the API (`containers[].imageDigest`)."""
        images = {}
        for name in ("web", "worker"):
            arns = self.ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus="RUNNING")["taskArns"]
            tasks = self.ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
            images[name] = {t["containers"][0].get("imageDigest") for t in tasks}
        return images

    def migration_tasks(self, cluster: str = "acme-staging") -> list[Any]:
        return [t for t in self.backend.tasks.get(cluster, {}).values() if t.task_definition_arn.endswith(
            "acme-migrate:1")]

    def target(self, clock: Any, env: str = "staging", config: dict[str, Any] | None = None) -> Any:
        """The core's view of `env`, with this world's clock driving the emulator and output kept."""
        from tasks.core.aws import clients_for
        from tasks.core.config import load_settings
        from tasks.core.target import Target

        settings = load_settings(config or CONFIG)
        return Target.build(settings.environment(env), clients_for(REGION), clock, self.output.append)


# An application's fabfile, as the README writes it (this repository's package is `tasks`)
FABFILE = "from tasks import check_config_files, ns  # noqa: F401\n\ncheck_config_files(__file__)\n"


@pytest.fixture
def project(tmp_path: Any, monkeypatch: Any, clock: Clock) -> Any:
    """An application repository: its fabfile and its fabric.yaml; waits use the fake clock."""
    (tmp_path / "fabfile.py").write_text(FABFILE)
    (tmp_path / "fabric.yaml").write_text(yaml.safe_dump({"deploy": CONFIG}))
    monkeypatch.chdir(tmp_path)
    import tasks._runtime

    monkeypatch.setattr(tasks._runtime, "make_clock", lambda: clock)
    return tmp_path


def fab(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """Run the real `fab` program in this process: (exit status, stdout, stderr).

    `fabric.main.program` is the program the `fab` script runs, the one the fabfile's check reads `-f` from.
    """
    from fabric.main import program

    try:
        program.run(["fab", *argv])
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
def world(clock: Clock) -> Iterator[World]:
    """The world, with the test's fake clock driving its ECS (every sleep of the code under test advances it)."""
    from moto import mock_aws

    with mock_aws():
        world = World()
        clock.on_sleep.append(world.emulator.advance)
        yield world
        world.emulator.uninstall()
        assert not world.emulator.errors, f"the ECS emulator failed: {world.emulator.errors}"
