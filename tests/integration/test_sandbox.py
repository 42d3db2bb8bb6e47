"""The sandbox itself, driven with boto3 and plain HTTP as the deploy tasks would drive real AWS and Sleuth.

Each test starts its own sandbox (moto's state is process-global). ECS's time moves only when a test calls
`advance` (the sandbox's real-time thread is off here), so what is
asserted never depends on this machine's speed.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import SECRETS, Options, Sandbox, settings
from sandbox.ecs import CIRCUIT_BREAKER_REASON, ROLLBACK_STOP_REASON, migration_lines
from sandbox.faults import Fault

FAST = {"migration_seconds": 0.3, "rollout_seconds": 0.4}

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def start() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def _start(scenario: str = "success", **options: Any) -> Sandbox:
        sandbox = Sandbox(Options(scenario=scenario, **{**FAST, **options}), real_time=False).start()
        started.append(sandbox)
        return sandbox

    yield _start
    for sandbox in started:
        errors = sandbox.emulator.errors
        sandbox.stop()
        assert not errors, f"the ECS emulator failed: {errors}"


@pytest.fixture(scope="module")
def seeded() -> Iterator[Sandbox]:
    """One untouched sandbox for the tests that only read what was seeded."""
    with Sandbox(Options(**FAST)) as sandbox:
        yield sandbox


STEP = 0.02  # emulated seconds per step: the pace of the sandbox's own real-time thread


def advance_until(sandbox: Sandbox, check: Callable[[], Any], seconds: float = 5.0) -> Any:
    """Move the emulated ECS on, a step at a time, until `check()` holds (at most `seconds` of emulated time)."""
    for _ in range(int(seconds / STEP)):
        value = check()
        if value:
            return value
        sandbox.emulator.advance(STEP)
    raise AssertionError(f"still not so after {seconds}s of emulated time: {check}")


def run_migration(sandbox: Sandbox) -> dict[str, Any]:
    ecs = sandbox.client("ecs")
    network = sandbox.services()["web"]["networkConfiguration"]
    response = ecs.run_task(
        cluster=settings.CLUSTER,
        taskDefinition=settings.MIGRATION_TASK_DEFINITION,
        launchType="FARGATE",
        networkConfiguration=network,
        overrides={"containerOverrides": [{"name": settings.CONTAINER, "command": list(settings.MIGRATION_COMMAND)}]},
        startedBy="fab-deploy",
    )
    assert response["failures"] == []
    return response["tasks"][0]


def describe_task(sandbox: Sandbox, arn: str) -> dict[str, Any]:
    return sandbox.client("ecs").describe_tasks(cluster=settings.CLUSTER, tasks=[arn])["tasks"][0]


def log_lines(sandbox: Sandbox, task_arn: str) -> list[str]:
    stream = f"migrate/{settings.CONTAINER}/{task_arn.split('/')[-1]}"
    events = sandbox.client("logs").get_log_events(
        logGroupName=settings.LOG_GROUP, logStreamName=stream, startFromHead=True
    )["events"]
    return [e["message"] for e in events]


def restart(sandbox: Sandbox, service: str) -> str:
    response = sandbox.client("ecs").update_service(cluster=settings.CLUSTER, service=service, forceNewDeployment=True)
    deployments = response["service"]["deployments"]
    assert deployments[0]["status"] == "PRIMARY"
    assert deployments[0]["rolloutState"] == "IN_PROGRESS"
    return deployments[0]["id"]


def release_new_build(sandbox: Sandbox) -> None:
    """Point the release tag at the new build, as a deploy's retag does: the scenario's faults are that image's."""
    assert sandbox.world is not None
    ecr = sandbox.client("ecr")
    image = ecr.batch_get_image(repositoryName=sandbox.world.repository, imageIds=[{"imageTag": sandbox.world.new_sha}])
    ecr.put_image(repositoryName=sandbox.world.repository, imageTag=settings.RELEASE_TAG,
                  imageManifest=image["images"][0]["imageManifest"])


def stopped_tasks(sandbox: Sandbox, deployment_id: str) -> list[dict[str, Any]]:
    ecs = sandbox.client("ecs")
    arns = ecs.list_tasks(cluster=settings.CLUSTER, desiredStatus="STOPPED", startedBy=deployment_id)["taskArns"]
    return ecs.describe_tasks(cluster=settings.CLUSTER, tasks=arns)["tasks"] if arns else []


def test_seeded_repository_holds_the_current_release_and_a_new_build(seeded: Sandbox) -> None:
    sandbox = seeded
    world = sandbox.world
    tags = sandbox.image_tags()
    assert tags == {
        world.current_sha: world.current_digest,
        "latest": world.current_digest,
        world.new_sha: world.new_digest,
    }
    assert world.current_digest != world.new_digest
    repository = sandbox.client("ecr").describe_repositories(repositoryNames=[world.repository])["repositories"][0]
    assert repository["imageTagMutability"] == "MUTABLE"


def test_seeded_services_run_the_release_tag_on_fargate_and_log_with_awslogs(seeded: Sandbox) -> None:
    sandbox = seeded
    ecs = sandbox.client("ecs")
    services = sandbox.services()
    assert sorted(services) == ["web", "worker"]
    for name, service in services.items():
        assert service["launchType"] == "FARGATE"
        assert service["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == list(sandbox.world.subnets)
        (deployment,) = service["deployments"]
        assert deployment["rolloutState"] == "COMPLETED"
        assert deployment["runningCount"] == deployment["desiredCount"] == settings.SERVICES[name]
        assert service["events"][0]["message"] == f"(service {name}) has reached a steady state."
        definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        (container,) = definition["containerDefinitions"]
        assert container["image"] == sandbox.world.image
        assert container["image"].endswith("/sandbox-app:latest")
        assert container["memory"] == 512
        assert container["logConfiguration"]["options"] == {
            "awslogs-group": settings.LOG_GROUP,
            "awslogs-region": settings.REGION,
            "awslogs-stream-prefix": name,
        }
    migrate = ecs.describe_task_definition(taskDefinition=settings.MIGRATION_TASK_DEFINITION)["taskDefinition"]
    assert migrate["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-stream-prefix"] == "migrate"
    groups = sandbox.client("logs").describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == [settings.LOG_GROUP]


def test_generated_config_is_accepted_by_the_deploy_core(seeded: Sandbox, tmp_path: Path) -> None:
    from tasks.core.config import load_settings

    sandbox = seeded
    config_path, env_path = sandbox.write_files(tmp_path, poll_interval=0.1, timeout=9)
    import yaml

    tree = yaml.safe_load(config_path.read_text())
    environment = load_settings(tree["deploy"]).environment("demo")
    assert (environment.cluster, environment.services, environment.release_tag) == (
        "sandbox",
        ("web", "worker"),
        "latest",
    )
    assert environment.migrate is not None and environment.migrate.command == settings.MIGRATION_COMMAND
    assert (environment.poll_interval, environment.timeout) == (0.1, 9.0)
    assert tree["deploy"]["sleuth"] == {"url": sandbox.sleuth_url, "org": "acme", "deployment": "sandbox-app"}
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    env_text = env_path.read_text()
    assert f"export AWS_ENDPOINT_URL={sandbox.aws_endpoint}" in env_text
    assert all(secret in env_text for secret in SECRETS)
    assert not any(secret in config_path.read_text() for secret in SECRETS)


def test_migration_runs_logs_and_exits_0(start: Callable[..., Sandbox]) -> None:
    from moto.moto_api import state_manager

    pace_before = state_manager.get_transition("ecs::task")
    sandbox = start(migration_seconds=1.0)
    task = run_migration(sandbox)
    # Describing a task does not hurry it along (moto alone steps it to STOPPED in four calls): only time does.
    assert [describe_task(sandbox, task["taskArn"])["lastStatus"] for _ in range(6)] == ["PROVISIONING"] * 6
    sandbox.emulator.advance(0.5)
    assert describe_task(sandbox, task["taskArn"])["lastStatus"] == "RUNNING"
    sandbox.emulator.advance(0.45)
    assert describe_task(sandbox, task["taskArn"])["lastStatus"] == "RUNNING"  # 0.95 s of its 1 s
    sandbox.emulator.advance(0.05)
    stopped = describe_task(sandbox, task["taskArn"])
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["containers"][0]["exitCode"] == 0
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert stopped["stoppedReason"] == "Essential container in task exited"
    # Every line, the last included, is in CloudWatch by the time the task reads STOPPED.
    assert log_lines(sandbox, task["taskArn"]) == list(migration_lines("success"))
    assert state_manager.get_transition("ecs::task") == pace_before


def test_migration_fails_scenario_exits_1_after_logging_the_error(start: Callable[..., Sandbox]) -> None:
    sandbox = start("migration-fails")
    release_new_build(sandbox)
    task = run_migration(sandbox)
    running = advance_until(sandbox, lambda: (t := describe_task(sandbox, task["taskArn"]))["lastStatus"] == "RUNNING"
                            and t)
    assert "exitCode" not in running["containers"][0]
    stopped = advance_until(sandbox, lambda: (t := describe_task(sandbox, task["taskArn"]))["lastStatus"] == "STOPPED"
                            and t)
    assert stopped["containers"][0]["exitCode"] == 1
    lines = log_lines(sandbox, task["taskArn"])
    assert lines[-1].startswith("django.db.utils.OperationalError")
    assert lines == list(migration_lines("migration-fails"))


def test_rollout_completes_with_running_count_climbing_and_events(start: Callable[..., Sandbox]) -> None:
    sandbox = start(rollout_seconds=1.0)
    old_id = sandbox.services()["web"]["deployments"][0]["id"]
    new_id = restart(sandbox, "web")
    assert new_id != old_id
    seen: list[tuple[str, int, str | None]] = []

    def done() -> bool:
        deployments = sandbox.services()["web"]["deployments"]
        seen.append((deployments[0]["id"], deployments[0]["runningCount"], deployments[0]["rolloutState"]))
        if len(deployments) > 1:
            assert deployments[1]["id"] == old_id and deployments[1]["status"] == "ACTIVE"
        return deployments[0]["rolloutState"] == "COMPLETED"

    advance_until(sandbox, done)
    assert {deployment_id for deployment_id, _, _ in seen} == {new_id}
    counts = [running for _, running, _ in seen]
    assert counts == sorted(counts) and 0 in counts and counts[-1] == 2
    assert any(0 < running < 2 for running in counts), "running count should climb through 1"
    service = sandbox.services()["web"]
    assert [d["id"] for d in service["deployments"]] == [new_id]  # the old deployment drained
    messages = [e["message"] for e in service["events"]]
    assert messages[:2] == [
        "(service web) has reached a steady state.",
        f"(service web) (deployment {new_id}) deployment completed.",
    ]
    times = [e["createdAt"] for e in service["events"]]
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)
    # worker was not touched
    assert sandbox.services()["worker"]["deployments"][0]["rolloutState"] == "COMPLETED"
    assert stopped_tasks(sandbox, new_id) == []


def test_rollout_fails_scenario_rolls_web_back_and_completes_worker(start: Callable[..., Sandbox]) -> None:
    sandbox = start("rollout-fails")
    release_new_build(sandbox)
    old_web = sandbox.services()["web"]["deployments"][0]["id"]
    new_web, new_worker = restart(sandbox, "web"), restart(sandbox, "worker")
    advance_until(sandbox, lambda: sandbox.emulator.idle())
    services = sandbox.services()
    (web,) = services["web"]["deployments"]
    assert (web["id"], web["status"], web["rolloutState"]) == (old_web, "PRIMARY", "COMPLETED")
    assert any(f"Rolling back to deployment {old_web}" in e["message"] for e in services["web"]["events"])
    (worker,) = services["worker"]["deployments"]
    assert (worker["id"], worker["rolloutState"]) == (new_worker, "COMPLETED")
    tasks = stopped_tasks(sandbox, new_web)
    assert len(tasks) == 2
    assert {t["stoppedReason"] for t in tasks} == {ROLLBACK_STOP_REASON}
    assert {t["lastStatus"] for t in tasks} == {"STOPPED"}
    assert stopped_tasks(sandbox, new_worker) == []


def test_tasks_stop_scenario_fails_deployments_with_cannot_pull_tasks(start: Callable[..., Sandbox]) -> None:
    sandbox = start("tasks-stop")
    release_new_build(sandbox)
    new_ids = {name: restart(sandbox, name) for name in ("web", "worker")}
    advance_until(sandbox, lambda: sandbox.emulator.idle())
    services = sandbox.services()
    for name, new_id in new_ids.items():
        primary, old = services[name]["deployments"]
        assert (primary["id"], primary["status"], primary["rolloutState"]) == (new_id, "PRIMARY", "FAILED")
        assert primary["rolloutStateReason"] == CIRCUIT_BREAKER_REASON
        assert primary["failedTasks"] == settings.SERVICES[name]
        assert (old["status"], old["runningCount"]) == ("ACTIVE", settings.SERVICES[name])
        tasks = stopped_tasks(sandbox, new_id)
        assert len(tasks) == settings.SERVICES[name]
        for task in tasks:
            assert task["stopCode"] == "TaskFailedToStart"
            assert task["stoppedReason"].startswith("CannotPullContainerError:")
            assert task["containers"][0]["reason"] == task["stoppedReason"]
            assert "exitCode" not in task["containers"][0]
        # the task ids in the "has started" event are the tasks that stopped
        started = next(e["message"] for e in services[name]["events"] if "has started" in e["message"])
        assert all(t["taskArn"].split("/")[-1] in started for t in tasks)


def test_a_deployment_runs_the_digest_its_tag_named_when_it_was_created(start: Callable[..., Sandbox]) -> None:
    """ECS's version consistency: moving the tag changes no running task; a new deployment resolves it anew, and
    failures belong to the broken image only, so a redeploy on the old image works."""
    sandbox = start("tasks-stop")
    world = sandbox.world
    assert world is not None
    assert sandbox.running_images() == {"web": {world.current_digest: 2}, "worker": {world.current_digest: 1}}
    release_new_build(sandbox)
    assert sandbox.running_images()["web"] == {world.current_digest: 2}  # nothing redeployed yet
    failed = restart(sandbox, "web")
    advance_until(sandbox, lambda: sandbox.emulator.idle())
    assert sandbox.services()["web"]["deployments"][0]["rolloutState"] == "FAILED"
    assert {t["containers"][0]["imageDigest"] for t in stopped_tasks(sandbox, failed)} == {world.new_digest}
    ecr = sandbox.client("ecr")  # the tag back on the current build, then a new deployment
    image = ecr.batch_get_image(repositoryName=world.repository, imageIds=[{"imageTag": world.current_sha}])
    ecr.put_image(repositoryName=world.repository, imageTag=settings.RELEASE_TAG,
                  imageManifest=image["images"][0]["imageManifest"])
    restart(sandbox, "web")
    advance_until(sandbox, lambda: sandbox.emulator.idle())
    assert sandbox.services()["web"]["deployments"][0]["rolloutState"] == "COMPLETED"
    assert sandbox.running_images()["web"] == {world.current_digest: 2}


def test_faults_hit_the_tool_under_test_only_and_in_the_order_set(start: Callable[..., Sandbox]) -> None:
    from botocore.config import Config
    from botocore.exceptions import ClientError, ConnectionClosedError

    from sandbox.faults import Fault

    sandbox = start()
    sandbox.faults.set([Fault("ecs:DescribeServices", "throttle", count=1, after=1),
                        Fault("ecs:DescribeServices", "5xx", count=1, after=2),
                        Fault("ecs:DescribeServices", "drop", count=1, after=3)])
    import boto3

    tool = boto3.client("ecs", endpoint_url=sandbox.aws_endpoint, region_name=settings.REGION,
                        aws_access_key_id=settings.FAKE_AWS_ACCESS_KEY_ID,
                        aws_secret_access_key=settings.FAKE_AWS_SECRET_ACCESS_KEY,
                        config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    outcomes = []
    for _ in range(5):
        sandbox.services()  # the sandbox's own reads are never faulted
        try:
            tool.describe_services(cluster=settings.CLUSTER, services=["web"])
            outcomes.append("ok")
        except ClientError as err:
            outcomes.append(f"{err.response['ResponseMetadata']['HTTPStatusCode']} {err.response['Error']['Code']}")
        except ConnectionClosedError:
            outcomes.append("dropped")
    assert outcomes == ["ok", "400 ThrottlingException", "503 ServiceUnavailableException", "dropped", "ok"]
    assert sandbox.faults.played == [("ecs:DescribeServices", "throttle"), ("ecs:DescribeServices", "5xx"),
                                     ("ecs:DescribeServices", "drop")]


def test_a_truncated_answer_is_the_real_one_applied_and_cut_in_half(start: Callable[..., Sandbox]) -> None:
    import boto3

    from sandbox.faults import Fault

    sandbox = start()
    sandbox.faults.set([Fault("ecs:UpdateService", "truncated", count=1)])
    tool = boto3.client("ecs", endpoint_url=sandbox.aws_endpoint, region_name=settings.REGION,
                        aws_access_key_id=settings.FAKE_AWS_ACCESS_KEY_ID,
                        aws_secret_access_key=settings.FAKE_AWS_SECRET_ACCESS_KEY)
    before = sandbox.services()["web"]["deployments"][0]["id"]
    answer = tool.update_service(cluster=settings.CLUSTER, service="web", forceNewDeployment=True)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200 and "service" not in answer  # botocore alone
    assert sandbox.services()["web"]["deployments"][0]["id"] != before  # applied all the same
    assert sandbox.faults.played == [("ecs:UpdateService", "truncated")]


def test_keys_expired_by_a_keyed_rule_stay_expired_for_every_call_until_the_caller_signs_with_others(
    start: Callable[..., Sandbox],
) -> None:
    import boto3
    from botocore.exceptions import ClientError

    from sandbox.faults import Fault

    sandbox = start()
    expired: list[str] = []
    sandbox.faults.set([Fault("ecs:DescribeServices", "expired", count=1, after=1,
                              key=settings.FAKE_AWS_ACCESS_KEY_ID)])
    sandbox.faults.on_expiry = expired.append

    def client(service: str, key: str) -> Any:
        return boto3.client(service, endpoint_url=sandbox.aws_endpoint, region_name=settings.REGION,
                            aws_access_key_id=key, aws_secret_access_key="any")

    def outcome(call: Callable[[], Any]) -> str:
        try:
            call()
        except ClientError as err:
            return err.response["Error"]["Code"]
        return "ok"

    old, fresh = settings.FAKE_AWS_ACCESS_KEY_ID, settings.FRESH_AWS_ACCESS_KEY_ID
    describe = {"cluster": settings.CLUSTER, "services": ["web"]}
    assert outcome(lambda: client("ecs", fresh).describe_services(**describe)) == "ok"  # another key: counted, spared
    assert outcome(lambda: client("ecs", old).describe_services(**describe)) == "ExpiredTokenException"
    assert expired == [old]
    assert outcome(lambda: client("ecr", old).describe_repositories()) == "ExpiredTokenException"  # any service now
    assert outcome(lambda: client("ecr", fresh).describe_repositories()) == "ok"
    assert expired == [old]  # said once


def post(url: str, body: Any, token: str | None, scheme: str = "Bearer") -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    return send(urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST"))


def get(url: str, token: str) -> tuple[int, str]:
    return send(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}))


def send(request: urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_sleuth_stand_in_answers_503_first_then_records_without_the_token() -> None:
    printed: list[str] = []
    sandbox = Sandbox(Options(sleuth_failures=2, **FAST), say=printed.append).start()
    try:
        url = f"{sandbox.sleuth_url}/api/1/deployments/acme/sandbox-app/register_deploy"
        body = {"sha": settings.NEW_SHA, "environment": "demo", "ignore_if_duplicate": "true"}
        token = settings.FAKE_SLEUTH_API_TOKEN
        assert [post(url, body, token)[0] for _ in range(3)] == [503, 503, 200]
        assert post(url, body, "wrong") == (401, "Invalid API key")
        assert post(url, {"environment": "demo"}, token)[0] == 400
        assert post(f"{sandbox.sleuth_url}/api/1/elsewhere", body, token)[0] == 404
        assert post(url, body, token, scheme="apikey")[0] == 200  # the organization API key's scheme
        records = sandbox.registrations
        assert [(r.status, r.authorized) for r in records] == [
            (503, True),
            (503, True),
            (200, True),
            (401, False),
            (400, True),
            (404, True),
            (200, True),
        ]
        assert (records[2].org, records[2].deployment, records[2].body) == ("acme", "sandbox-app", body)
        assert all("authorization" not in {k.lower() for k in r.headers} for r in records)
        with urllib.request.urlopen(f"{sandbox.sleuth_url}/_sandbox/requests", timeout=5) as response:
            listed = json.loads(response.read())
        assert [r["status"] for r in listed] == [503, 503, 200, 401, 400, 404, 200]
        assert len(printed) == 7 and "-> 200 Success" in printed[2]
        assert not any(secret in line for line in printed for secret in SECRETS)
        assert token not in json.dumps(listed)
    finally:
        sandbox.stop()


def test_python_m_sandbox_prints_what_a_user_needs_but_no_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--scenario", "tasks-stop", "--dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    killer = threading.Timer(60, process.kill)  # a sandbox that never gets ready must not hang the suite
    killer.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=10)
    finally:
        killer.cancel()
        process.kill()
    output = "".join(lines) + rest
    assert process.returncode == 0, output
    assert "scenario tasks-stop" in output
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:" in output
    assert "AWS_ACCESS_KEY_ID=(fake; in sandbox.env)" in output
    assert "SLEUTH_API_TOKEN=(fake; in sandbox.env)" in output
    assert f"source {tmp_path / 'sandbox.env'}" in output
    assert f"deploy --sha {settings.NEW_SHA} --tag {settings.NEW_SHA} --env demo" in output
    assert (tmp_path / "fabric.yaml").read_text() in output
    assert output.rstrip().endswith("Sandbox stopped.")
    assert not any(secret in output for secret in SECRETS)


def test_health_stand_in_answers_by_the_image_the_tasks_run_and_wants_its_token() -> None:
    from sandbox.health import FAILURE, HealthStandIn

    old, new = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    builds = {old: settings.CURRENT_SHA, new: settings.NEW_SHA}
    running: dict[str, dict[str | None, int]] = {}  # what the emulator would report, changed as the rollout goes
    answers = {}
    for mode in ("healthy", "fails-on-new", "ready-on-new"):
        health = HealthStandIn(mode=mode, token="t0ken", running=lambda: running, new_digest=new,
                               build_of=builds.get).start()
        try:
            seen = []
            for web in ({old: 2}, {old: 1, new: 1}, {new: 2}):  # before, during and after web's rollout
                running.update(web=web, worker={new if new in web else old: 1})
                seen.append(get(health.url, "t0ken")[0])
            assert get(health.url, "wrong") == (401, "missing or wrong token")
            answers[mode] = seen
        finally:
            health.stop()
    assert answers == {"healthy": [200, 200, 200], "fails-on-new": [200, 500, 500], "ready-on-new": [503, 503, 200]}
    assert health.answers == [503, 503, 200, 401]
    assert HealthStandIn(mode="fails-on-new", token="t", running=lambda: running, new_digest=new,
                         build_of=builds.get).answer() == (
        500, f"build {settings.NEW_SHA}: {FAILURE} (web on {settings.NEW_SHA}, worker on {settings.NEW_SHA})")


def test_the_command_line_takes_faults_and_refuses_a_malformed_one():
    from sandbox.__main__ import parser

    args = parser().parse_args(["--fault", "ecs:UpdateService:throttle:4", "--fault", "ecr:PutImage:html:1:2"])
    assert args.fault == [Fault("ecs:UpdateService", "throttle", 4), Fault("ecr:PutImage", "html", 1, after=2)]
    for bad in ("ecs:UpdateService:throttle", "ecs:UpdateService:melt:1", "ecs:UpdateService:drop:x"):
        with pytest.raises(SystemExit):
            parser().parse_args(["--fault", bad])
