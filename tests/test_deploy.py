"""The whole release against emulated AWS: what a user checks afterwards in ECR and ECS."""

from __future__ import annotations

import pytest
from conftest import NEW_SHA, NEW_TAG

from tasks.core import release
from tasks.core.errors import DeployError


def deploy(world, clock, **kwargs):
    ctx = world.context(clock, **kwargs)
    plan = release.prepare_deploy(ctx, sha=NEW_SHA, tag=NEW_TAG)
    plan.execute(ctx)
    return ctx, plan


def test_deploy_moves_tag_migrates_restarts_and_reports(world, clock):
    before = world.deployment_ids()
    clock.on_sleep += [world.migration_logs(["Applying app.0042_orders... OK", "migrations done"]),
                       world.complete_rollouts()]

    ctx, plan = deploy(world, clock)

    assert world.digest_of("latest") == world.new_digest
    assert world.digest_of("latest-previous") == world.old_digest
    after = world.deployment_ids()
    assert all(after[name] != before[name] for name in ("web", "worker"))
    assert len(world.migration_tasks()) == 1
    out = "\n".join(world.output)
    assert "    | migrations done" in out
    assert "web: COMPLETED 2/2 running" in out and "worker: COMPLETED 1/1 running" in out
    summary = release.summary(ctx, plan, sha=NEW_SHA, tag=NEW_TAG)
    assert world.new_digest in summary and "web COMPLETED 2/2" in summary and "worker COMPLETED 1/1" in summary
    assert all(s <= 5 for s in clock.sleeps)


def test_rerun_keeps_the_true_previous(world, clock):
    clock.on_sleep.append(world.complete_rollouts())
    deploy(world, clock)
    deploy(world, clock)
    assert world.digest_of("latest") == world.new_digest
    assert world.digest_of("latest-previous") == world.old_digest
    assert any("already points at" in line for line in world.output)


def test_failed_migration_restores_tag_and_leaves_services_alone(world, clock):
    before = world.deployment_ids()

    def fail_migration() -> None:
        for task in world.migration_tasks():
            task.containers[0].exitCode = 3
            task.stopped_reason = "Essential container in task exited"

    clock.on_sleep += [world.migration_logs(["django.db.utils.OperationalError: no such table"]), fail_migration]
    with pytest.raises(DeployError) as caught:
        deploy(world, clock)

    message = str(caught.value)
    assert message.startswith("migrate failed: task ")
    assert "exited with code 3" in message and "Essential container in task exited" in message
    assert world.digest_of("latest") == world.old_digest
    assert world.deployment_ids() == before
    out = "\n".join(world.output)
    assert "OperationalError: no such table" in out
    assert f"release tag: acme-app:latest restored to sha256:{world.old_digest[7:19]}" in out
    assert "services not restarted: web, worker still run what they ran before" in out


def test_rolled_back_rollout_is_a_failure_and_restores_tag(world, clock):
    """The circuit breaker removes our deployment and the old one is PRIMARY again: 'stable', yet failed."""

    def roll_back_web() -> None:
        web = world.service("web")
        ours = web.deployments[0]
        web.deployments[:] = [dict(ours, id="ecs-svc/old", rolloutState="COMPLETED", runningCount=2)]
        web.events.insert(0, {"id": "e1", "createdAt": ours["createdAt"], "message":
                              "(service web) rolling back to deployment ecs-svc/old."})
        worker = world.service("worker").deployments[0]
        worker.update(rolloutState="COMPLETED", runningCount=1, pendingCount=0)

    clock.on_sleep.append(roll_back_web)
    ctx = world.context(clock, config=_without_migration())
    plan = release.prepare_deploy(ctx, sha=NEW_SHA, tag=NEW_TAG)
    with pytest.raises(DeployError) as caught:
        plan.execute(ctx)

    assert str(caught.value) == (
        "restart failed: web ROLLED_BACK - our deployment is gone: the circuit breaker rolled it back "
        "(now on acme-web:1)"
    )
    assert world.digest_of("latest") == world.old_digest
    out = "\n".join(world.output)
    assert "the circuit breaker rolled it back" in out
    assert "rolling back to deployment ecs-svc/old" in out
    assert "service worker: COMPLETED 1/1 running (runs the new image" in out
    assert "fab restart --env staging --service worker" in out


def test_failure_after_a_good_deploy_puts_back_both_tags(world, clock):
    """-previous must still name the image before the live one, or the next rollback has nowhere to go."""
    clock.on_sleep.append(world.complete_rollouts())
    deploy(world, clock)
    third = world.ecr_put(3, "cccccccc")
    clock.on_sleep[:] = [lambda: world.service("web").deployments[0].update(rolloutState="FAILED")]
    ctx = world.context(clock, config=_without_migration())
    with pytest.raises(DeployError):
        release.prepare_deploy(ctx, sha="cccccccc", tag="cccccccc").execute(ctx)
    assert world.digest_of("latest") == world.new_digest and world.digest_of("cccccccc") == third
    assert world.digest_of("latest-previous") == world.old_digest
    assert (f"release tag: acme-app:latest restored to sha256:{world.new_digest[7:19]}; latest-previous restored to "
            f"sha256:{world.old_digest[7:19]}") in "\n".join(world.output)


def test_first_deploy_has_no_previous_and_failure_removes_the_tag(world, clock):
    world.ecr.batch_delete_image(repositoryName="acme-app", imageIds=[{"imageTag": "latest"}])

    def fail_rollouts() -> None:
        for name in ("web", "worker"):
            world.service(name).deployments[0].update(rolloutState="FAILED", rolloutStateReason="tasks failed to start")

    clock.on_sleep.append(fail_rollouts)
    ctx = world.context(clock, config=_without_migration())
    plan = release.prepare_deploy(ctx, sha=NEW_SHA, tag=NEW_TAG)
    assert any("first deploy" in line for line in plan.render())
    with pytest.raises(DeployError):
        plan.execute(ctx)
    assert world.digest_of("latest") is None
    assert world.digest_of("latest-previous") is None
    assert "release tag: acme-app:latest removed again (this was its first deploy)" in "\n".join(world.output)


def test_missing_image_changes_nothing(world, clock):
    ctx = world.context(clock)
    with pytest.raises(DeployError) as caught:
        release.prepare_deploy(ctx, sha=NEW_SHA, tag="1234567")
    assert str(caught.value) == (
        "image acme-app:1234567 not found in ECR: check --tag, or wait for CI to push it"
    )
    assert world.digest_of("latest") == world.old_digest


def test_missing_service_is_caught_before_any_change(world, clock):
    config = _without_migration()
    config["environments"]["staging"]["services"] = ["web", "api"]
    ctx = world.context(clock, config=config)
    with pytest.raises(DeployError, match="ECS service\\(s\\) api not found in cluster 'acme-staging'"):
        release.prepare_deploy(ctx, sha=NEW_SHA, tag=NEW_TAG)


def test_missing_cluster_is_named(world, clock):
    config = _without_migration()
    config["environments"]["staging"]["cluster"] = "acme-nope"
    ctx = world.context(clock, config=config)
    with pytest.raises(DeployError, match="ECS cluster 'acme-nope' not found"):
        release.prepare_deploy(ctx, sha=NEW_SHA, tag=NEW_TAG)


def test_immutable_repository_is_refused_before_any_change(world, clock):
    world.ecr.put_image_tag_mutability(repositoryName="acme-app", imageTagMutability="IMMUTABLE")
    ctx = world.context(clock)
    with pytest.raises(DeployError, match="IMMUTABLE tags, so latest cannot move"):
        release.prepare_deploy(ctx, sha=NEW_SHA, tag=NEW_TAG)


def test_dry_run_plan_reads_everything_and_changes_nothing(world, clock):
    calls: list[str] = []
    ctx = world.context(clock)
    for client in (ctx.registry.client, ctx.cluster.client):
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    before = world.deployment_ids()

    plan = release.prepare_deploy(ctx, sha=NEW_SHA, tag=NEW_TAG)
    lines = plan.render()

    mutating = [c for c in calls if not c.startswith(("Describe", "BatchGet", "List", "Get"))]
    assert mutating == []
    assert world.digest_of("latest") == world.old_digest and world.deployment_ids() == before
    text = "\n".join(lines)
    assert lines[0] == f"DRY RUN - deploy {NEW_SHA} (acme-app:{NEW_TAG}) to staging; nothing will be changed."
    assert f"1. retag: move acme-app:latest sha256:{world.old_digest[7:19]} -> sha256:{world.new_digest[7:19]}" in text
    assert "2. migrate: run task acme-migrate:1 (container app) in cluster acme-staging: python manage.py migrate" \
        in text
    assert "3. restart: force a new deployment of web (acme-web:1, 0/2 running)" in text


def _without_migration():
    import copy

    from conftest import CONFIG

    config = copy.deepcopy(CONFIG)
    del config["environments"]["staging"]["migrate"]
    return config
