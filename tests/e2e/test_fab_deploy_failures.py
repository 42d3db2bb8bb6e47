"""End to end: the real `fab deploy` as a subprocess against the sandbox, for each way a deploy fails (the
migration, a rollout ECS rolls back, a rollout that FAILS, one that outlasts the timeout, a smoke check the new
build never passes): production is left as it was and Sleuth is told nothing. Each deploy runs once per module
and several tests read it (e2e/deploys.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from e2e.deploys import FAULTS, ROLLOUT_FAULTS, Deploy
from sandbox import SECRETS
from sandbox.ecs import migration_lines
from sandbox.health import FAILURE as HEALTH_FAILURE

# --- failures ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", FAULTS)
def test_a_failed_deploy_leaves_production_as_it_was_and_tells_sleuth_nothing(
    deploy: Callable[..., Deploy], scenario: str
) -> None:
    """The release tag and -previous where they were, and once ECS settles every service's tasks on the image
    they ran before; exit 1 with the first failure as the last line."""
    d = deploy(scenario)
    w = d.world
    assert d.run.exit_code == 1, d.run.output
    assert d.tags == d.tags_before
    assert d.running_images == {"web": {w.current_digest: 2}, "worker": {w.current_digest: 1}}
    assert d.registrations == []
    assert "==> putting demo back as it was" in d.run.output
    assert any(line.startswith("==> put back in ") for line in d.run.lines), d.run.output
    assert f"release tag: {w.repository}:latest = {w.current_digest[: len('sha256:') + 12]}, as before" in d.run.output
    first = {"migration-fails": "migrate failed", "smoke-fails": "smoke failed"}.get(scenario, "restart failed")
    assert d.last_line.startswith(f"error: {first}: "), d.last_line


@pytest.mark.parametrize("scenario", ROLLOUT_FAULTS)
def test_the_put_back_redeploys_each_service_once_and_only_those_ecs_did_not_roll_back(
    deploy: Callable[..., Deploy], scenario: str
) -> None:
    d = deploy(scenario)
    # ECS's own rollback is left alone; a deployment still in flight is rolled back by ECS when asked, never stacked on
    rolled_back = {"rollout-fails": {"web"}, "rollout-hangs": set(d.world.services)}.get(scenario, set())
    for service in d.world.services:
        started = d.started_deployments[service]
        assert len(started) == (1 if service in rolled_back else 2), (service, started)
        (deployment,) = d.services[service]["deployments"]  # one deployment left, COMPLETED
        assert deployment["rolloutState"] == "COMPLETED"
        assert deployment["id"] == (d.deployments_before[service] if service in rolled_back else started[-1])
        line = next(line for line in d.run.lines if line.startswith(f"  service {service}: "))
        assert line.endswith("(the image it ran before)"), line


def test_migration_failure_prints_the_error_and_restarts_nothing(deploy: Callable[..., Deploy]) -> None:
    d = deploy("migration-fails")
    assert migration_lines("migration-fails")[-1] in d.run.output
    (task,) = d.migrations
    assert task["containers"][0]["exitCode"] == 1
    assert "migrat" in d.last_line.lower() and "1" in d.last_line
    assert d.started_deployments == {}
    for service, old_id in d.deployments_before.items():
        assert d.deployments(service) == [(old_id, "PRIMARY", "COMPLETED")]


def test_a_rollout_that_outlasts_the_timeout_is_a_failure_that_names_the_timeout(deploy: Callable[..., Deploy]) -> None:
    d = deploy("rollout-hangs")
    assert "--timeout" in d.run.command
    assert d.last_line == ("error: restart failed: web TIMED_OUT - still in progress after 1s; worker TIMED_OUT - "
                           "still in progress after 1s")


def test_a_health_url_that_fails_on_the_new_build_puts_it_back_with_the_last_answer(
        deploy: Callable[..., Deploy]) -> None:
    """Both rollouts COMPLETED (ECS's health checks passed); the application answered 500 until the smoke
    timeout. The release tag and every service are back on the build they ran (asserted for every fault above)."""
    d = deploy("smoke-fails")
    assert d.health_answers and set(d.health_answers) == {500}
    assert d.last_line.startswith("error: smoke failed: http://127.0.0.1:"), d.last_line
    assert "/health did not answer 200 within 1.0s (" in d.last_line
    assert d.last_line.endswith(f"the last answer: 500 Internal Server Error: build {d.world.new_sha}: "
                                f"{HEALTH_FAILURE} (web on {d.world.new_sha}, worker on {d.world.new_sha})")


# --- every run --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", FAULTS)
def test_no_output_contains_a_credential(deploy: Callable[..., Deploy], scenario: str) -> None:
    output = deploy(scenario).run.output
    assert not [secret for secret in SECRETS if secret in output]
    # fab itself never shows a traceback; the failing migration's own log has one, streamed as log lines
    logged = sum("Traceback" in line for line in migration_lines(scenario))
    assert output.count("Traceback (most recent call last)") == logged, output
