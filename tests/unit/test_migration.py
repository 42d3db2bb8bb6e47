"""The migration task: exact run_task parameters, logs streamed to the last line, every way it can fail."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber
from fakes import FakeClock

from tasks.core import migration
from tasks.core.ecs import Cluster, Container, LogSettings, TaskDefinition
from tasks.core.errors import DeployError
from tasks.core.logs import LogStream

TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/acme/0f1e2d3c"

NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}}

SPEC = migration.MigrationSpec(
    cluster="acme",
    task_definition=TaskDefinition(
        arn="arn:aws:ecs:us-east-1:123456789012:task-definition/acme-migrate:4",
        containers=(Container("app", "acme-app:latest", True, LogSettings("/ecs/acme", "migrate", None)),),
    ),
    container="app",
    command=("python", "manage.py", "migrate"),
    network_configuration=NETWORK,
    capacity_provider_strategy=(),
    platform_version=None,
)


@pytest.fixture
def stubs():
    ecs, logs = boto3.client("ecs", region_name="us-east-1"), boto3.client("logs", region_name="us-east-1")
    with Stubber(ecs) as ecs_stub, Stubber(logs) as logs_stub:
        yield ecs, ecs_stub, logs, logs_stub
        ecs_stub.assert_no_pending_responses()
        logs_stub.assert_no_pending_responses()


def task(status, exit_code=None, stop_code=None, stopped_reason=None, reason=None):
    container = {"name": "app", "lastStatus": status}
    if exit_code is not None:
        container["exitCode"] = exit_code
    if reason:
        container["reason"] = reason
    raw = {"taskArn": TASK_ARN, "lastStatus": status, "containers": [container]}
    if stop_code:
        raw["stopCode"] = stop_code
    if stopped_reason:
        raw["stoppedReason"] = stopped_reason
    return raw


def expect_run(ecs_stub):
    ecs_stub.add_response(
        "run_task",
        {"tasks": [task("PROVISIONING")], "failures": []},
        {
            "cluster": "acme",
            "taskDefinition": SPEC.task_definition.arn,
            "count": 1,
            "launchType": "FARGATE",
            "networkConfiguration": NETWORK,
            "overrides": {"containerOverrides": [{"name": "app", "command": ["python", "manage.py", "migrate"]}]},
            "startedBy": "fab-migrate",
            "clientToken": ANY,
        },
    )


def expect_poll(ecs_stub, raw):
    ecs_stub.add_response("describe_tasks", {"tasks": [raw], "failures": []}, {"cluster": "acme", "tasks": [TASK_ARN]})


def expect_logs(logs_stub, messages, token_in=None, token_out="f/1"):
    params = {"logGroupName": "/ecs/acme", "logStreamName": "migrate/app/0f1e2d3c", "startFromHead": True}
    if token_in:
        params["nextToken"] = token_in
    logs_stub.add_response(
        "get_log_events",
        {"events": [{"timestamp": 1, "message": m} for m in messages], "nextForwardToken": token_out},
        params,
    )


def run(ecs, logs, timeout=60):
    lines: list[str] = []
    cluster = Cluster(ecs, "acme")
    task = migration.start(SPEC, cluster, say=lines.append)
    result = migration.follow(
        SPEC, task, cluster, lambda group, stream: LogStream(logs, group, stream), FakeClock(),
        timeout=timeout, interval=2, say=lines.append,
    )
    return result, lines


def test_success_streams_logs_and_reads_once_more_after_stop(stubs):
    ecs, ecs_stub, logs, logs_stub = stubs
    expect_run(ecs_stub)
    expect_poll(ecs_stub, task("RUNNING"))
    logs_stub.add_client_error("get_log_events", "ResourceNotFoundException")  # stream not created yet
    expect_poll(ecs_stub, task("STOPPED", exit_code=0))
    expect_logs(logs_stub, ["Applying orders.0042... OK"], token_out="f/1")
    expect_logs(logs_stub, [], token_in="f/1", token_out="f/1")
    # the line the task wrote just before it stopped arrives on the read after STOPPED
    expect_logs(logs_stub, ["All migrations applied."], token_in="f/1", token_out="f/2")
    expect_logs(logs_stub, [], token_in="f/2", token_out="f/2")

    result, lines = run(ecs, logs)

    assert result.exit_code == 0
    assert lines == [
        "    task 0f1e2d3c started on acme-migrate:4",
        "    task 0f1e2d3c: RUNNING",
        "    | Applying orders.0042... OK",
        "    task 0f1e2d3c: STOPPED",
        "    | All migrations applied.",
    ]


@pytest.mark.parametrize(
    ("stopped", "expected"),
    [
        (task("STOPPED", exit_code=1, stopped_reason="Essential container in task exited"),
         "task 0f1e2d3c exited with code 1 (Essential container in task exited); "
         "its logs: /ecs/acme migrate/app/0f1e2d3c"),
        (task("STOPPED", stop_code="TaskFailedToStart", stopped_reason="CannotPullContainerError: no such image"),
         "task 0f1e2d3c failed to start (CannotPullContainerError: no such image)"),
        (task("STOPPED", stopped_reason="ResourceInitializationError: unable to pull secrets", reason="OOM"),
         "task 0f1e2d3c stopped without an exit code: it never ran "
         "(ResourceInitializationError: unable to pull secrets; OOM)"),
    ],
)
def test_failures_say_why(stubs, stopped, expected):
    ecs, ecs_stub, logs, logs_stub = stubs
    expect_run(ecs_stub)
    expect_poll(ecs_stub, stopped)
    expect_logs(logs_stub, ["Traceback (most recent call last):"], token_out="f/1")
    expect_logs(logs_stub, [], token_in="f/1", token_out="f/1")
    expect_logs(logs_stub, [], token_in="f/1", token_out="f/1")
    with pytest.raises(DeployError) as caught:
        run(ecs, logs)
    assert str(caught.value).startswith(expected)


def test_run_task_failures_are_reported(stubs):
    ecs, ecs_stub, logs, _ = stubs
    ecs_stub.add_response(
        "run_task", {"tasks": [], "failures": [{"arn": "x", "reason": "RESOURCE:MEMORY", "detail": "no capacity"}]}
    )
    with pytest.raises(DeployError, match="ECS did not start the migration task: RESOURCE:MEMORY: no capacity"):
        run(ecs, logs)


def test_timeout_leaves_the_task_and_says_how_to_stop_it(stubs):
    ecs, ecs_stub, logs, logs_stub = stubs
    expect_run(ecs_stub)
    for _ in range(3):  # at 0, 2 and 4 s
        expect_poll(ecs_stub, task("RUNNING"))
        logs_stub.add_client_error("get_log_events", "ResourceNotFoundException")
    with pytest.raises(DeployError) as caught:
        run(ecs, logs, timeout=4)
    assert str(caught.value) == (
        "task 0f1e2d3c still RUNNING after 4s; it was left running. Watch it in the ECS console, or stop "
        "it: aws ecs stop-task --cluster acme --task 0f1e2d3c"
    )


def test_failed_task_and_log_reads_are_missed_polls_and_the_last_line_still_arrives(stubs):
    """ECS throttles DescribeTasks and CloudWatch answers 503 for a while: the watch goes on; the migration,
    which runs on against the database whatever we see, is followed to its end and its last line printed."""
    ecs, ecs_stub, logs, logs_stub = stubs
    expect_run(ecs_stub)
    expect_poll(ecs_stub, task("RUNNING"))
    expect_logs(logs_stub, ["Applying orders.0042... OK"], token_out="f/1")
    expect_logs(logs_stub, [], token_in="f/1", token_out="f/1")
    for _ in range(2):  # at 2 and 4 s
        ecs_stub.add_client_error("describe_tasks", "ThrottlingException", "Rate exceeded", 400)
        logs_stub.add_client_error("get_log_events", "ServiceUnavailableException", "down", 503)
    expect_poll(ecs_stub, task("STOPPED", exit_code=0))  # at 6 s
    logs_stub.add_client_error("get_log_events", "ServiceUnavailableException", "down", 503)
    logs_stub.add_client_error("get_log_events", "ServiceUnavailableException", "down", 503)  # after STOPPED
    expect_logs(logs_stub, ["All migrations applied."], token_in="f/1", token_out="f/2")  # tried again
    expect_logs(logs_stub, [], token_in="f/2", token_out="f/2")

    result, lines = run(ecs, logs)

    assert result.exit_code == 0
    assert lines == [
        "    task 0f1e2d3c started on acme-migrate:4",
        "    | Applying orders.0042... OK",
        "    task 0f1e2d3c: RUNNING",
        "    ecs:DescribeTasks throttled (ThrottlingException); still waiting",
        "    logs:GetLogEvents failed with HTTP 503 (ServiceUnavailableException); still waiting",
        "    ecs:DescribeTasks answers again after 2 failed reads (4s)",
        "    task 0f1e2d3c: STOPPED",
        "    logs:GetLogEvents answers again after 4 failed reads (6s)",
        "    | All migrations applied.",
    ]


def test_a_timeout_during_an_outage_names_the_failing_read(stubs):
    ecs, ecs_stub, logs, logs_stub = stubs
    expect_run(ecs_stub)
    expect_poll(ecs_stub, task("RUNNING"))
    logs_stub.add_client_error("get_log_events", "ResourceNotFoundException")
    for _ in range(2):  # at 2 and 4 s
        ecs_stub.add_client_error("describe_tasks", "ThrottlingException", "Rate exceeded", 400)
        logs_stub.add_client_error("get_log_events", "ResourceNotFoundException")
    with pytest.raises(DeployError) as caught:
        run(ecs, logs, timeout=4)
    assert str(caught.value) == (
        "task 0f1e2d3c still RUNNING after 4s; the last read failed: ecs:DescribeTasks throttled "
        "(ThrottlingException) (2 in a row); it was left running. Watch it in the ECS console, or stop it: "
        "aws ecs stop-task --cluster acme --task 0f1e2d3c"
    )
