"""What the benchmark (bench/, `make bench`) stands on, checked cheaply: the sandbox counts API calls at the
server, seeds N services, and serves ecs-deploy's way of deploying; the bench reads runs correctly.

The benchmark itself is not run here: it measures real time for minutes.
"""

from __future__ import annotations

import time

from sandbox import Options, Sandbox, settings

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
