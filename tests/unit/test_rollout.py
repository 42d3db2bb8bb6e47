"""Judging rollouts by our own deployment id in `deployments[]`, with scripted ECS answers (botocore Stubber checks
each request): the judgement where ECS does not offer the service-deployment API (test_service_deployments.py
has the judgement where it does).

The sequences are what ECS really returns: IN_PROGRESS then COMPLETED; FAILED with a reason; our
deployment removed by the circuit breaker while the old one is PRIMARY and steady again.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber
from fakes import FakeClock

from tasks.core import rollout
from tasks.core.ecs import Cluster
from tasks.core.errors import DeployError
from tasks.core.rollout import Expectation
from tasks.core.steps.restart import Restart

T0 = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)


def deployment(id, state, running, desired=2, status="PRIMARY", reason=None):
    d = {
        "id": id,
        "status": status,
        "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/acme-web:7",
        "desiredCount": desired,
        "runningCount": running,
        "pendingCount": desired - running,
        "failedTasks": 0,
        "createdAt": T0,
        "updatedAt": T0,
    }
    if state:
        d["rolloutState"] = state
    if reason:
        d["rolloutStateReason"] = reason
    return d


def service(name, *deployments, events=()):
    return {
        "serviceName": name,
        "serviceArn": f"arn:aws:ecs:us-east-1:123456789012:service/acme/{name}",
        "status": "ACTIVE",
        "desiredCount": 2,
        "runningCount": 2,
        "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/acme-web:7",
        "deployments": list(deployments),
        "events": [{"id": f"e{i}", "createdAt": at, "message": msg} for i, (at, msg) in enumerate(events)],
    }


@pytest.fixture
def ecs():
    client = boto3.client("ecs", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def poll_answer(stubber, names, *services):
    stubber.add_response(
        "describe_services", {"services": list(services), "failures": []}, {"cluster": "acme", "services": names}
    )


def legacy(client):
    """A cluster whose ECS answered that it lacks the service-deployment API."""
    cluster = Cluster(client, "acme", parallel=1)
    cluster.deployments_api = False
    return cluster


def follow(client, ids, **kwargs):
    lines: list[str] = []
    clock = FakeClock()
    rollouts = {name: rollout.Rollout(name, id, T0) for name, id in ids.items()}
    rollout.wait(legacy(client), rollouts, clock, timeout=kwargs.get("timeout", 60), interval=5,
                 say=lines.append, expect=kwargs.get("expect"))
    return rollouts, lines, clock


NEW = "sha256:" + "b" * 64
OLD = "sha256:" + "a" * 64


def running(stubber, tasks: dict[str, list[str]]) -> None:
    """Each service's running tasks, each on the digest given, as one list_tasks per service and one
    describe_tasks for them all give them."""
    arns = {name: [f"arn:aws:ecs:us-east-1:123456789012:task/acme/{name}{i}" for i in range(len(digests))]
            for name, digests in tasks.items()}
    for name in tasks:
        stubber.add_response("list_tasks", {"taskArns": arns[name]},
                             {"cluster": "acme", "serviceName": name, "desiredStatus": "RUNNING", "maxResults": 100})
    every = [arn for name in tasks for arn in arns[name]]
    if every:
        stubber.add_response("describe_tasks", {"tasks": [
            {"taskArn": arn, "lastStatus": "RUNNING", "containers": [
                {"name": "app", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-app:latest",
                 "imageDigest": digest}]}
            for name, digests in tasks.items() for arn, digest in zip(arns[name], digests, strict=True)]},
            {"cluster": "acme", "tasks": every})


def no_stopped_tasks(stubber, deployment_id):
    stubber.add_response(
        "list_tasks", {"taskArns": []},
        {"cluster": "acme", "desiredStatus": "STOPPED", "startedBy": deployment_id, "maxResults": 5},
    )


def test_in_progress_then_completed_prints_only_changes(ecs):
    client, stubber = ecs
    old = deployment("ecs-svc/old", "COMPLETED", 2, status="ACTIVE")
    for count in (0, 0, 1):
        poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", "IN_PROGRESS", count), old))
    poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", "COMPLETED", 2)))
    running(stubber, {"web": [NEW, NEW]})

    rollouts, lines, clock = follow(client, {"web": "ecs-svc/new"}, expect=Expectation("acme-app", NEW))

    assert rollouts["web"].ok
    assert lines == [
        "    web: IN_PROGRESS 0/2 running",
        "    web: IN_PROGRESS 1/2 running",
        "    web: COMPLETED 2/2 running",
    ]
    assert rollouts["web"].runs() == "2 tasks on sha256:bbbbbbbbbbbb"
    assert clock.sleeps == [5, 5, 5]


def test_a_completed_rollout_whose_tasks_run_another_image_is_a_failure(ecs):
    """A task definition pinned to another tag or a digest: ECS completes the rollout, nothing changed."""
    client, stubber = ecs
    poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", "COMPLETED", 2)))
    running(stubber, {"web": [OLD, OLD]})

    rollouts, lines, _ = follow(client, {"web": "ecs-svc/new"}, expect=Expectation("acme-app", NEW))

    assert rollouts["web"].state == rollout.WRONG_IMAGE
    assert lines[-1] == ("    web: WRONG_IMAGE 2/2 running - its tasks run 2 tasks on sha256:aaaaaaaaaaaa, not "
                         "sha256:bbbbbbbbbbbb: its task definition must name the release tag, not another tag or a "
                         "digest")


def test_throttled_and_dropped_reads_are_missed_polls_said_once_and_the_rollout_still_completes(ecs):
    client, stubber = ecs
    poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", "IN_PROGRESS", 0)))
    for _ in range(3):
        stubber.add_client_error("describe_services", "ThrottlingException", "Rate exceeded", 400)
    poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", "COMPLETED", 2)))
    running(stubber, {"web": [NEW, NEW]})

    rollouts, lines, clock = follow(client, {"web": "ecs-svc/new"}, expect=Expectation("acme-app", NEW))

    assert rollouts["web"].ok
    assert lines == [
        "    web: IN_PROGRESS 0/2 running",
        "    ecs:DescribeServices throttled (ThrottlingException); still waiting",
        "    ecs:DescribeServices answers again after 3 failed reads (15s)",
        "    web: COMPLETED 2/2 running",
    ]
    assert clock.sleeps == [5, 5, 5, 5]  # the schedule kept


def test_an_outage_until_the_deadline_names_the_last_error_with_the_timeout(ecs):
    client, stubber = ecs
    poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", "IN_PROGRESS", 1)))
    for _ in range(3):  # at 5, 10 and 15 s
        stubber.add_client_error("describe_services", "ServiceUnavailableException", "down", 503)
    no_stopped_tasks(stubber, "ecs-svc/new")

    rollouts, _, clock = follow(client, {"web": "ecs-svc/new"}, timeout=15)

    assert rollouts["web"].state == rollout.TIMED_OUT
    assert rollouts["web"].reason == (
        "still in progress after 15s; the last read failed: ecs:DescribeServices failed with HTTP 503 "
        "(ServiceUnavailableException) (3 in a row)")
    assert clock.elapsed == 15


def test_an_error_that_is_not_transient_ends_the_wait_at_once(ecs):
    client, stubber = ecs
    stubber.add_client_error("describe_services", "AccessDeniedException", "no", 400)
    with pytest.raises(DeployError, match="access denied: the credentials in use lack ecs:DescribeServices"):
        follow(client, {"web": "ecs-svc/new"})


def test_failed_rollout_reports_reason_events_and_stopped_tasks(ecs):
    client, stubber = ecs
    reason = "ECS deployment circuit breaker: tasks failed to start."
    events = [(T0 - timedelta(minutes=5), "(service web) has reached a steady state."),
              (T0 + timedelta(seconds=30), "(service web) has started 2 tasks: (task 1a2b).")]
    poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", "FAILED", 0, reason=reason),
                                          events=events))
    stubber.add_response(
        "list_tasks", {"taskArns": ["arn:aws:ecs:us-east-1:123456789012:task/acme/1a2b"]},
        {"cluster": "acme", "desiredStatus": "STOPPED", "startedBy": "ecs-svc/new", "maxResults": 5},
    )
    stubber.add_response(
        "describe_tasks",
        {"tasks": [{
            "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/acme/1a2b",
            "lastStatus": "STOPPED",
            "stopCode": "TaskFailedToStart",
            "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
            "containers": [{"name": "web", "reason": "CannotPullContainerError: not found"}],
        }]},
        {"cluster": "acme", "tasks": ["arn:aws:ecs:us-east-1:123456789012:task/acme/1a2b"]},
    )

    rollouts, lines, _ = follow(client, {"web": "ecs-svc/new"})

    assert rollouts["web"].state == rollout.FAILED
    explained = rollout.explain(rollouts)
    assert lines == [f"    web: FAILED 0/2 running - {reason}"]
    assert explained[0] == "  why web failed:"
    assert "    event 06:00:30: (service web) has started 2 tasks: (task 1a2b)." in explained
    assert not any("steady state" in line for line in explained)  # an event from before the restart
    assert explained[-1] == ("    stopped task 1a2b: CannotPullContainerError: pull image manifest has been retried "
                             "5 time(s); CannotPullContainerError: not found")


def test_a_reason_ecs_repeats_for_task_and_container_is_said_once(ecs):
    client, stubber = ecs
    poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", "FAILED", 0)))
    arn = "arn:aws:ecs:us-east-1:123456789012:task/acme/9f8e"
    stubber.add_response("list_tasks", {"taskArns": [arn]},
                         {"cluster": "acme", "desiredStatus": "STOPPED", "startedBy": "ecs-svc/new", "maxResults": 5})
    pull = "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"
    stubber.add_response("describe_tasks", {"tasks": [{"taskArn": arn, "lastStatus": "STOPPED", "stoppedReason": pull,
                                                       "containers": [{"name": "web", "reason": pull}]}]},
                         {"cluster": "acme", "tasks": [arn]})
    rollouts, _, _ = follow(client, {"web": "ecs-svc/new"})
    assert rollout.explain(rollouts)[-1] == f"    stopped task 9f8e: {pull}"


def test_circuit_breaker_rollback_is_failure_though_the_service_is_steady(ecs):
    """What `services_stable` calls success: one deployment, running == desired, but it is the old one."""
    client, stubber = ecs
    poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", "IN_PROGRESS", 0),
                                          deployment("ecs-svc/old", "COMPLETED", 2, status="ACTIVE")))
    poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/old", "COMPLETED", 2)))
    no_stopped_tasks(stubber, "ecs-svc/new")

    rollouts, lines, _ = follow(client, {"web": "ecs-svc/new"})

    assert rollouts["web"].state == rollout.ROLLED_BACK
    assert lines[-1] == ("    web: ROLLED_BACK 0/2 running - our deployment is gone: the circuit breaker rolled it "
                         "back (now on acme-web:7)")


def test_timeout_names_what_it_was_waiting_for(ecs):
    client, stubber = ecs
    for _ in range(4):  # at 0, 5, 10 and 15 s
        poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", "IN_PROGRESS", 1)))
    no_stopped_tasks(stubber, "ecs-svc/new")

    rollouts, lines, clock = follow(client, {"web": "ecs-svc/new"}, timeout=15)

    assert rollouts["web"].state == rollout.TIMED_OUT
    assert rollouts["web"].line() == "web: TIMED_OUT 1/2 running - still in progress after 15s"
    assert clock.elapsed == 15


def test_without_rollout_state_the_sole_steady_deployment_is_success(ecs):
    client, stubber = ecs
    poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", None, 2),
                                          deployment("ecs-svc/old", None, 2, status="ACTIVE")))
    poll_answer(stubber, ["web"], service("web", deployment("ecs-svc/new", None, 2)))
    running(stubber, {"web": [NEW, NEW]})
    rollouts, _, _ = follow(client, {"web": "ecs-svc/new"})
    assert rollouts["web"].ok


def test_twelve_services_take_two_describe_calls_per_poll_and_finish_together(ecs):
    client, stubber = ecs
    names = [f"svc{i:02d}" for i in range(12)]
    for state in ("IN_PROGRESS", "COMPLETED"):
        for chunk in (names[:10], names[10:]):
            poll_answer(stubber, chunk, *[service(n, deployment(f"ecs-svc/{n}", state, 2)) for n in chunk])
    running(stubber, {name: [NEW, NEW] for name in names})
    rollouts, _, clock = follow(client, {n: f"ecs-svc/{n}" for n in names})
    assert all(r.ok for r in rollouts.values())
    assert clock.sleeps == [5]


def test_restart_forces_every_service_at_once_then_waits(ecs):
    client, stubber = ecs
    for name in ("web", "worker"):
        stubber.add_response(
            "update_service",
            {"service": service(name, deployment(f"ecs-svc/{name}-new", "IN_PROGRESS", 0),
                                deployment(f"ecs-svc/{name}-old", "COMPLETED", 2, status="ACTIVE"))},
            {"cluster": "acme", "service": name, "forceNewDeployment": True},
        )
    poll_answer(stubber, ["web", "worker"], service("web", deployment("ecs-svc/web-new", "COMPLETED", 2)),
                service("worker", deployment("ecs-svc/worker-new", "COMPLETED", 2)))
    running(stubber, {"web": [NEW, NEW], "worker": [NEW, NEW]})
    step = Restart({"web": None, "worker": None}, expect=Expectation("acme-app", NEW), restore=None)
    lines: list[str] = []

    class Target:  # what the step reads of its target; one call at a time, in order, for the Stubber
        cluster = legacy(client)
        clock = FakeClock()
        timeout, interval, say, parallel = 60, 5, lines.append, 1

        class env:
            name = "staging"

        @staticmethod
        def rollout_timeout(service):
            return 60

    step.run(Target)
    assert [r.deployment_id for r in step.rollouts.values()] == ["ecs-svc/web-new", "ecs-svc/worker-new"]
    assert step.verified
    assert step.report() == ["  web     COMPLETED 2/2 in 0.0s, 2 tasks on sha256:bbbbbbbbbbbb",
                             "  worker  COMPLETED 2/2 in 0.0s, 2 tasks on sha256:bbbbbbbbbbbb"]
