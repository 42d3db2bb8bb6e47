"""End to end: the real `fab deploy` as a subprocess against the sandbox, for the deploys that go through
(success, a dry run, AWS trouble outlasted, a smoke check that waits for the new build) and one refused before
any change. Each deploy runs once per module and several tests read it (e2e/deploys.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime

import pytest

from e2e.deploys import PACE, POLL_INTERVAL, PREVIOUS, TIMEOUT, Deploy
from sandbox import SECRETS, Options, Sandbox, settings
from sandbox.demo import deploy_arguments
from sandbox.ecs import migration_lines
from sandbox.fab import run_fab

# --- success ----------------------------------------------------------------------------------------------


def test_success_exits_0_and_ends_with_the_summary_and_the_sleuth_registration(deploy: Callable[..., Deploy]) -> None:
    d = deploy("success")
    assert d.run.exit_code == 0, d.run.output
    headline, web, worker, sleuth = d.run.lines[-4:]
    short = d.world.new_digest[: len("sha256:") + 12]
    assert headline.startswith(f"deployed {d.world.new_sha} to demo in ")
    assert headline.endswith(f"= {d.world.new_digest} (tag {d.world.new_sha}); verified: every service runs {short}")
    assert web.split()[:3] == ["web", "COMPLETED", "2/2"] and web.endswith(f", 2 tasks on {short}")
    assert worker.split()[:3] == ["worker", "COMPLETED", "1/1"] and worker.endswith(f", 1 task on {short}")
    assert "Sleuth" in sleuth and d.world.new_sha in sleuth
    assert d.running_images == {"web": {d.world.new_digest: 2}, "worker": {d.world.new_digest: 1}}


def test_success_moves_the_release_tag_and_records_the_previous_one(deploy: Callable[..., Deploy]) -> None:
    d = deploy("success")
    w = d.world
    assert d.tags_before == {w.current_sha: w.current_digest, "latest": w.current_digest, w.new_sha: w.new_digest}
    assert d.tags == {**d.tags_before, "latest": w.new_digest, PREVIOUS: w.current_digest}


def test_success_redeploys_every_service_once_and_each_completes(deploy: Callable[..., Deploy]) -> None:
    d = deploy("success")
    assert sorted(d.started_deployments) == ["web", "worker"]
    for service, (new_id,) in d.started_deployments.items():
        assert new_id != d.deployments_before[service]
        assert d.deployments(service) == [(new_id, "PRIMARY", "COMPLETED")]  # the old one drained
        running = d.services[service]["deployments"][0]["runningCount"]
        assert running == settings.SERVICES[service]


def test_success_runs_one_migration_and_streams_its_log_before_restarting(deploy: Callable[..., Deploy]) -> None:
    d = deploy("success")
    (task,) = d.migrations
    assert task["overrides"]["containerOverrides"][0]["command"] == list(settings.MIGRATION_COMMAND)
    assert task["containers"][0]["exitCode"] == 0
    output = d.run.output
    positions = [output.find(line) for line in migration_lines("success")]
    assert -1 not in positions, output
    assert positions == sorted(positions), "log lines printed out of order"
    first_restart = min(output.find(ids[0]) for ids in d.started_deployments.values())
    assert positions[-1] < first_restart, "the migration's last line must come before any restart"


def test_success_registers_the_deploy_with_sleuth_exactly_once(deploy: Callable[..., Deploy]) -> None:
    d = deploy("success")
    (registration,) = d.registrations
    assert registration.status == 200 and registration.authorized
    assert registration.path == "/api/1/deployments/acme/sandbox-app/register_deploy"
    body = registration.body
    assert (body["sha"], body["environment"], body["ignore_if_duplicate"]) == (d.world.new_sha, "demo", "true")
    assert datetime.fromisoformat(body["date"]).utcoffset() is not None  # ISO 8601 with a zone


def test_dry_run_reads_everything_and_changes_nothing(deploy: Callable[..., Deploy]) -> None:
    d = deploy("success", dry=True)
    assert d.run.exit_code == 0, d.run.output
    assert d.tags == d.tags_before
    assert d.started_deployments == {} and d.migrations == []
    assert d.registrations == []
    for service, old_id in d.deployments_before.items():
        assert d.deployments(service) == [(old_id, "PRIMARY", "COMPLETED")]


def test_reads_that_fail_for_several_polls_are_outlasted_and_the_deploy_succeeds(deploy: Callable[..., Deploy]) -> None:
    """DescribeTasks throttled, GetLogEvents answered 503 and DescribeServices dropped, each several polls in a
    row: exit 0, every service COMPLETED on the new image, Sleuth told once, the migration's last line printed."""
    d = deploy("flaky-aws")
    w = d.world
    assert d.run.exit_code == 0, d.run.output
    assert {kind for _, kind in d.faults_played} == {"throttle", "5xx", "drop"}
    output = d.run.output
    for said in ("ecs:DescribeTasks throttled (ThrottlingException); still waiting",
                 "logs:GetLogEvents failed with HTTP 503 (ServiceUnavailableException); still waiting",
                 "ecs:DescribeServices connection dropped (ConnectionClosedError); still waiting"):
        assert output.count(said) == 1, said  # once per outage
    for action in ("ecs:DescribeTasks", "logs:GetLogEvents", "ecs:DescribeServices"):
        assert f"{action} answers again after " in output
    assert migration_lines("success")[-1] in output
    assert d.running_images == {"web": {w.new_digest: 2}, "worker": {w.new_digest: 1}}
    assert [(s, d.deployments(s)[0][2]) for s in w.services] == [("web", "COMPLETED"), ("worker", "COMPLETED")]
    assert [r.status for r in d.registrations] == [200]


def test_a_health_url_that_answers_only_the_new_build_lets_the_deploy_through(deploy: Callable[..., Deploy]) -> None:
    d = deploy("smoke-ready")
    w = d.world
    assert d.run.exit_code == 0, d.run.output
    assert d.health_answers[-1] == 200
    assert d.tags["latest"] == w.new_digest
    assert d.running_images == {"web": {w.new_digest: 2}, "worker": {w.new_digest: 1}}
    assert [r.status for r in d.registrations] == [200]
    smoke, sleuth = d.run.lines[-2:]
    assert smoke.startswith("  smoke check: http://127.0.0.1:") and " answered 200 after " in smoke
    assert sleuth.startswith(f"Sleuth: registered {w.new_sha}")


def test_a_service_codedeploy_deploys_is_refused_before_any_change() -> None:
    """`fab check` says the same (tests/integration/test_preflight.py, with restart and rollback)."""
    with Sandbox(Options(scenario="code-deploy", **PACE)) as sandbox, \
            tempfile.TemporaryDirectory(prefix="e2e-") as directory:
        world = sandbox.world
        assert world is not None
        config, _ = sandbox.write_files(directory, poll_interval=POLL_INTERVAL, timeout=TIMEOUT)
        tags, services = sandbox.image_tags(), sandbox.services()
        deploy = run_fab(sandbox, config, deploy_arguments(world), timeout=60)
        assert deploy.exit_code == 1, deploy.output
        assert deploy.lines == ["error: preflight failed: deployments: web uses the CODE_DEPLOY deployment "
                                "controller: CodeDeploy replaces its tasks (blue/green), not a forced new deployment; "
                                "deploy it with CodeDeploy (`aws deploy create-deployment`), or take it out of "
                                "deploy.environments.demo.services"]
        assert sandbox.image_tags() == tags and sandbox.services() == services
        assert sandbox.emulator.started_deployments == [] and sandbox.registrations == []
        assert sandbox.running_images() == {"web": {world.current_digest: 2}, "worker": {world.current_digest: 1}}


# --- every run --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ("success", "flaky-aws", "smoke-ready"))
def test_no_output_contains_a_credential(deploy: Callable[..., Deploy], scenario: str) -> None:
    output = deploy(scenario).run.output
    assert not [secret for secret in SECRETS if secret in output]
    # fab itself never shows a traceback; the failing migration's own log has one, streamed as log lines
    logged = sum("Traceback" in line for line in migration_lines(scenario))
    assert output.count("Traceback (most recent call last)") == logged, output
