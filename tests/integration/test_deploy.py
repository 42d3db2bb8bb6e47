"""The whole release against emulated AWS: what a user checks afterwards in ECR and ECS."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import ACCOUNT, CONFIG, NEW_SHA, NEW_TAG, fab

from sandbox.ecs import CIRCUIT_BREAKER_REASON, ROLLBACK_STOP_REASON
from tasks.core import planner
from tasks.core.errors import DeployError
from tasks.core.executor import execute


def deploy(world, clock, config=None, sha=NEW_SHA, tag=NEW_TAG):
    target = world.target(clock, config=config)
    plan = planner.deploy(target, sha=sha, tag=tag)
    seconds = execute(plan, target)
    return target, plan, seconds


def short(digest: str) -> str:
    return f"sha256:{digest[7:19]}"


def without_migration(**staging):
    config = copy.deepcopy(CONFIG)
    del config["environments"]["staging"]["migrate"]
    config["environments"]["staging"].update(staging)
    return config


def test_deploy_moves_tag_migrates_restarts_verifies_and_reports(world, clock):
    before = world.deployment_ids()
    world.emulator.migration_lines = ("Applying app.0042_orders... OK", "migrations done")

    target, plan, seconds = deploy(world, clock)

    assert world.digest_of("latest") == world.new_digest
    assert world.digest_of("latest-previous") == world.old_digest
    after = world.deployment_ids()
    assert all(after[name] != before[name] for name in ("web", "worker"))
    assert world.running_images() == {"web": {world.new_digest}, "worker": {world.new_digest}}
    assert len(world.migration_tasks()) == 1
    out = "\n".join(world.output)
    assert "    | migrations done" in out
    assert f"migration exited 0 after 15s, on {short(world.new_digest)}" in out
    assert "web: COMPLETED 2/2 running" in out and "worker: COMPLETED 1/1 running" in out
    for step in ("retag", "migrate", "restart"):
        assert f"    {step} done in " in out
    headline, web, worker = planner.summary(target, plan, seconds, what="deployed")
    assert headline.startswith("deployed in ") and world.new_digest in headline
    assert headline.endswith(f"verified: every service runs {short(world.new_digest)}")
    assert web == f"  web     COMPLETED 2/2 in 20.0s, 2 tasks on {short(world.new_digest)}"
    assert worker == f"  worker  COMPLETED 1/1 in 20.0s, 1 task on {short(world.new_digest)}"
    assert all(s <= 5 for s in clock.sleeps)


def test_rerun_keeps_the_true_previous(world, clock):
    deploy(world, clock)
    deploy(world, clock)
    assert world.digest_of("latest") == world.new_digest
    assert world.digest_of("latest-previous") == world.old_digest
    assert any("already points at" in line for line in world.output)


def test_failed_migration_restores_tag_and_leaves_services_alone(world, clock):
    before = world.deployment_ids()
    world.emulator.migration_lines = ("django.db.utils.OperationalError: no such table",)
    world.emulator.migration_exit_code = 3

    with pytest.raises(DeployError) as caught:
        deploy(world, clock)

    message = str(caught.value)
    assert message.startswith("migrate failed: task ")
    assert "exited with code 3" in message and "Essential container in task exited" in message
    assert world.digest_of("latest") == world.old_digest
    assert world.deployment_ids() == before
    assert world.running_images() == {"web": {world.old_digest}, "worker": {world.old_digest}}
    out = "\n".join(world.output)
    assert "OperationalError: no such table" in out
    assert f"    acme-app:latest restored to {short(world.old_digest)}" in out
    assert "  not started: restart" in out
    assert "whatever it changed before failing is not reversed" in out


@pytest.mark.parametrize("outcome", ["rollback", "fail", "hang"])
def test_a_failed_rollout_puts_every_service_back_on_the_old_image(world, clock, outcome):
    """web's new deployment is rolled back, FAILED or never ends; worker's completes on the new image.
    Both must end on the old image, with the release tag where it was."""
    world.emulator.outcomes["web"] = outcome
    before = world.deployment_ids()
    config = without_migration(timeout=60)

    with pytest.raises(DeployError) as caught:
        deploy(world, clock, config=config)

    # the circuit breaker without rollback stops the deployment; one that never ends is rolled back in flight
    state = {"rollback": "ROLLED_BACK", "fail": "STOPPED", "hang": "TIMED_OUT"}[outcome]
    assert str(caught.value).startswith(f"restart failed: web {state}")
    assert "worker" not in str(caught.value)
    assert world.digest_of("latest") == world.old_digest
    assert world.digest_of("latest-previous") is None  # it did not exist before this deploy
    assert world.running_images() == {"web": {world.old_digest}, "worker": {world.old_digest}}
    out = "\n".join(world.output)
    redeployed = "worker" if outcome in ("rollback", "hang") else "web, worker"
    assert f"a new deployment of {redeployed}: it resolves the restored" in out
    if outcome == "hang":  # still in flight: rolled back in place by ECS, not stacked on
        assert "web: its deployment is still in flight: stopping it with ROLLBACK" in out
        assert world.deployment_ids()["web"] == before["web"]  # ECS restored the deployment it ran
    assert f"service worker: COMPLETED 1/1 running; put back: COMPLETED 1/1 in 20.0s; 1 task on " \
           f"{short(world.old_digest)} (the image it ran before)" in out
    assert f"2 tasks on {short(world.old_digest)} (the image it ran before)" in out
    assert "==> put back in " in out
    if outcome == "rollback":
        assert world.deployment_ids()["web"] == before["web"]  # ECS's own rollback: nothing to redeploy
        assert ROLLBACK_STOP_REASON in out and "web: ROLLED_BACK 0/2 running - ECS rolled it back: " in out
        assert "circuit breaker triggered: " in out
    if outcome == "fail":
        assert CIRCUIT_BREAKER_REASON in out and "CannotPullContainerError" in out
    assert "  why web failed:" in out  # the events since the restart and the stopped tasks' reasons


def test_failure_after_a_good_deploy_puts_back_both_tags_and_the_services(world, clock):
    """-previous must still name the image before the live one, or the next rollback has nowhere to go."""
    deploy(world, clock)
    third = world.ecr_put(3, "cccccccc")
    world.emulator.broken = {third}
    world.emulator.outcomes["web"] = "fail"
    with pytest.raises(DeployError):
        deploy(world, clock, config=without_migration(), sha="cccccccc", tag="cccccccc")
    assert world.digest_of("latest") == world.new_digest and world.digest_of("cccccccc") == third
    assert world.digest_of("latest-previous") == world.old_digest
    assert world.running_images() == {"web": {world.new_digest}, "worker": {world.new_digest}}
    out = "\n".join(world.output)
    assert f"release tag: acme-app:latest = {short(world.new_digest)}, as before; latest-previous = " \
           f"{short(world.old_digest)}, as before" in out


def test_first_deploy_has_no_previous_and_failure_removes_the_tag(world, clock):
    world.ecr.batch_delete_image(repositoryName="acme-app", imageIds=[{"imageTag": "latest"}])
    world.emulator.outcomes.update(web="fail", worker="fail")
    target = world.target(clock, config=without_migration())
    plan = planner.deploy(target, sha=NEW_SHA, tag=NEW_TAG)
    assert any("first deploy" in line for line in plan.render())
    with pytest.raises(DeployError):
        execute(plan, target)
    assert world.digest_of("latest") is None
    assert world.digest_of("latest-previous") is None
    assert "acme-app:latest removed again (this was its first deploy)" in "\n".join(world.output)


def test_on_failure_leave_changes_nothing_back_and_prints_every_command(world, clock):
    world.emulator.outcomes["web"] = "fail"
    with pytest.raises(DeployError) as caught:
        deploy(world, clock, config=without_migration(on_failure="leave"))
    assert str(caught.value).startswith("restart failed: web STOPPED")
    assert world.digest_of("latest") == world.new_digest
    assert world.digest_of("latest-previous") == world.old_digest
    assert world.running_images()["worker"] == {world.new_digest}
    out = world.output[world.output.index("==> nothing is put back (on_failure: leave for staging); state now:"):]
    assert f"  release tag: acme-app:latest = {short(world.new_digest)} (was {short(world.old_digest)}); " \
           f"latest-previous = {short(world.old_digest)}" in out
    commands = out[out.index("  to put it back by hand, in this order:") + 1:]
    assert commands[0].startswith("    aws ecr put-image --repository-name acme-app --image-tag latest ")
    assert f"imageDigest={world.old_digest}" in commands[0]
    assert commands[1:] == [
        "    aws ecr batch-delete-image --repository-name acme-app --image-ids imageTag=latest-previous",
        "    fab restart --env staging --service web --service worker   # once the release tag is back",
        "  or, all at once: fab rollback --env staging   (release tag back to latest-previous = "
        f"{short(world.old_digest)}, every service restarted)",
    ]


def test_a_put_back_that_fails_gives_the_commands_and_keeps_the_first_error(world, clock):
    world.emulator.outcomes["worker"] = "fail"
    target = world.target(clock, config=without_migration())
    plan = planner.deploy(target, sha=NEW_SHA, tag=NEW_TAG)
    put_images = []

    def deny_after_the_retag(**_):  # ECR itself answers: the deploy's two PutImage work, the put-back's do not
        put_images.append(1)
        if len(put_images) > 2:
            return FakeHttp(400), {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
        return None

    target.registry.client.meta.events.register("before-call.ecr.PutImage", deny_after_the_retag)
    with pytest.raises(DeployError) as caught:
        execute(plan, target)

    assert str(caught.value).startswith("restart failed: worker STOPPED")
    out = world.output
    assert any(line.startswith("    could NOT put back retag: access denied: the credentials in use lack "
                               "ecr:PutImage (not allowed)") for line in out)
    assert any(line.startswith("==> put-back INCOMPLETE after ") for line in out)
    commands = out[out.index("  to finish putting it back by hand, in this order:") + 1:]
    assert commands[0].startswith("    aws ecr put-image --repository-name acme-app --image-tag latest ")
    restart = "    fab restart --env staging --service web --service worker   # once the release tag is back"
    assert commands[-2] == restart
    assert commands[-1].startswith("  or, all at once: fab rollback --env staging")
    assert world.digest_of("latest") == world.new_digest  # not put back, and the output says so


class FakeHttp:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


def test_missing_image_changes_nothing(world, clock):
    target = world.target(clock)
    with pytest.raises(DeployError) as caught:
        planner.deploy(target, sha=NEW_SHA, tag="1234567")
    assert str(caught.value) == (
        "image acme-app:1234567 not found in ECR: check --tag, or wait for CI to push it"
    )
    assert world.digest_of("latest") == world.old_digest


def test_missing_service_is_caught_before_any_change(world, clock):
    config = without_migration()
    config["environments"]["staging"]["services"] = ["web", "api"]
    target = world.target(clock, config=config)
    with pytest.raises(DeployError, match="ECS service\\(s\\) api not found in cluster 'acme-staging'"):
        planner.deploy(target, sha=NEW_SHA, tag=NEW_TAG)


def test_missing_cluster_is_named(world, clock):
    config = without_migration()
    config["environments"]["staging"]["cluster"] = "acme-nope"
    target = world.target(clock, config=config)
    with pytest.raises(DeployError, match="ECS cluster 'acme-nope' not found"):
        planner.deploy(target, sha=NEW_SHA, tag=NEW_TAG)


def test_immutable_repository_is_refused_before_any_change(world, clock):
    world.ecr.put_image_tag_mutability(repositoryName="acme-app", imageTagMutability="IMMUTABLE")
    target = world.target(clock)
    with pytest.raises(DeployError, match="IMMUTABLE tags, so latest cannot move"):
        planner.deploy(target, sha=NEW_SHA, tag=NEW_TAG)


def test_dry_run_plan_reads_everything_and_changes_nothing(world, clock):
    calls: list[str] = []
    target = world.target(clock)
    for client in (target.registry.client, target.cluster.client):
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    before = world.deployment_ids()

    plan = planner.deploy(target, sha=NEW_SHA, tag=NEW_TAG)
    lines = plan.render()

    mutating = [c for c in calls if not c.startswith(("Describe", "BatchGet", "List", "Get"))]
    assert mutating == []
    assert world.digest_of("latest") == world.old_digest and world.deployment_ids() == before
    text = "\n".join(lines)
    assert lines[0] == f"DRY RUN - deploy {NEW_SHA} (acme-app:{NEW_TAG}) to staging; nothing will be changed."
    assert f"1. retag: move acme-app:latest {short(world.old_digest)} -> {short(world.new_digest)}" in text
    assert "2. migrate: run task acme-migrate:1 (container app) in cluster acme-staging: python manage.py migrate" \
        in text
    assert "3. restart: force a new deployment of web (acme-web:1, 2/2 running; rolling, allowed 10m00s)" in text
    assert f"then check that every running task runs {short(world.new_digest)}" in text


def test_a_deploy_asks_each_fact_once_whose_credentials_and_where_the_release_tag_was(world, project, capsys):
    """The account guard and the preflight share one caller identity; the planner takes the release tag as the
    preflight read it. The release tag is read again only after it moved, to check the move (and by the status)."""
    import json

    from conftest import PRODUCT_CALLS

    config = {**CONFIG, "environments": {**CONFIG["environments"],
                                         "staging": {**CONFIG["environments"]["staging"], "account": ACCOUNT}}}
    (project / "fabric.yaml").write_text(yaml.safe_dump({"deploy": config}))
    PRODUCT_CALLS.clear()
    code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert (code, err) == (0, ""), out
    actions = [action for action, _ in PRODUCT_CALLS]
    assert actions.count("sts:GetCallerIdentity") == 1
    moved = actions.index("ecr:PutImage")
    reads = [json.loads(body)["imageIds"] for action, body in PRODUCT_CALLS[:moved] if action == "ecr:BatchGetImage"]
    assert reads.count([{"imageTag": "latest"}]) == 1
