"""What the benchmark (bench/, `make bench`) stands on, checked cheaply: the sandbox counts API calls at the
server, seeds N services, and serves ecs-deploy's way of deploying; the bench reads runs correctly.

The benchmark itself is not run here: it measures real time for minutes.
"""

from __future__ import annotations

import time

from bench.measure import Measurement, fab_reports, phases, polls
from bench.procs import Line, TimedRun
from sandbox import Options, Sandbox, settings
from sandbox.api_calls import ApiCall

FAST = {"migration_seconds": 0.3, "rollout_seconds": 0.3, "verbose": False}


def wait_idle(sandbox: Sandbox, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not sandbox.emulator.idle():
        assert time.monotonic() < deadline, "the emulated ECS is still busy"
        time.sleep(0.02)


def test_the_emulated_aws_counts_every_call_by_service_and_operation_and_seeds_n_services() -> None:
    with Sandbox(Options(services=settings.numbered_services(12), **FAST), show_ecs=False) as sandbox:
        assert sandbox.world.services == tuple(f"svc{i:02d}" for i in range(1, 13))
        mark = sandbox.api_calls.mark()
        ecs = sandbox.client("ecs")
        described = ecs.describe_services(cluster=settings.CLUSTER, services=list(sandbox.world.services[:10]))
        sandbox.client("sts").get_caller_identity()  # a query-protocol call: the operation is in the form body
        assert len(described["services"]) == 10
        assert sandbox.api_calls.counts(mark) == {"ecs:DescribeServices": 1, "sts:GetCallerIdentity": 1}


def test_a_new_task_definition_rolls_out_and_a_rollback_puts_the_old_one_back() -> None:
    """ecs-deploy's way: register a revision, point the service at it, count the RUNNING tasks of it."""
    with Sandbox(Options(scenario="rollout-fails", **FAST), show_ecs=False) as sandbox:
        ecs, ecr, world = sandbox.client("ecs"), sandbox.client("ecr"), sandbox.world
        new_build = ecr.batch_get_image(repositoryName=world.repository, imageIds=[{"imageTag": world.new_sha}])
        ecr.put_image(repositoryName=world.repository, imageTag=settings.RELEASE_TAG,  # the scenario's broken image
                      imageManifest=new_build["images"][0]["imageManifest"])
        for name in ("worker", "web"):  # worker completes; web is rolled back by the circuit breaker
            old = ecs.describe_services(cluster=settings.CLUSTER, services=[name])["services"][0]
            definition = ecs.describe_task_definition(taskDefinition=old["taskDefinition"])["taskDefinition"]
            fields = ("family", "containerDefinitions", "requiresCompatibilities", "networkMode", "cpu", "memory",
                      "executionRoleArn")
            new_arn = ecs.register_task_definition(**{k: definition[k] for k in fields})["taskDefinition"][
                "taskDefinitionArn"
            ]
            updated = ecs.update_service(cluster=settings.CLUSTER, service=name, taskDefinition=new_arn)["service"]
            assert updated["deployments"][0]["id"] != old["deployments"][0]["id"]
            assert updated["deployments"][0]["rolloutState"] == "IN_PROGRESS"
            wait_idle(sandbox)
            after = ecs.describe_services(cluster=settings.CLUSTER, services=[name])["services"][0]
            arns = ecs.list_tasks(cluster=settings.CLUSTER, desiredStatus="RUNNING")["taskArns"]
            running = [t for t in ecs.describe_tasks(cluster=settings.CLUSTER, tasks=arns)["tasks"]
                       if t["group"] == f"service:{name}" and t["lastStatus"] == "RUNNING"]
            expected = old["taskDefinition"] if name == "web" else new_arn
            assert after["taskDefinition"] == expected
            assert [t["taskDefinitionArn"] for t in running] == [expected] * settings.SERVICES[name]
        ends = {(e.service, e.state) for e in sandbox.emulator.ended_rollouts}
        assert ends == {("worker", "COMPLETED"), ("web", "ROLLED_BACK")}


def test_the_bench_reads_state_lines_and_groups_describe_calls_into_polls() -> None:
    run = TimedRun(
        ("fab",), 0, 0.0, 5.0,
        (Line(1.0, "    web: new deployment ecs-svc/1 (sandbox-web:1)"), Line(2.0, "    web: IN_PROGRESS 0/2 running"),
         Line(3.0, "    web: COMPLETED 2/2 running"), Line(3.5, "  service web: COMPLETED 2/2 running")),
    )
    assert fab_reports(run, ["web", "worker"]) == {"web": ("COMPLETED", 3.0)}
    calls = [ApiCall(0.0, "ecs", "DescribeServices"), ApiCall(0.1, "ecs", "UpdateService")] + [
        ApiCall(t, "ecs", "DescribeServices") for t in (0.2, 0.25, 1.2, 1.26, 2.2, 2.27)
    ]
    bursts = polls(Measurement((run,), (), tuple(calls)), interval=1.0)
    assert [len(b) for b in bursts] == [2, 2, 2]
    assert phases(3) == [0.1, 0.5, 0.9]
