"""End to end: the real `fab deploy` as a subprocess against the sandbox, once per scenario.

What is asserted is what a user or an auditor checks afterwards: fab's exit status and last lines, where the
release tag and `latest-previous` point in ECR, which services ECS was asked to redeploy and how each ended,
which image every service's tasks run once ECS settles, that the migration's last log line reached the output,
and what Sleuth received (nothing after a failure). Each deploy runs once per module (cached) and several tests
read it. Pace: migrations 0.3 s, rollouts 0.5 s, `poll_interval` 0.05 s, so one deploy takes two to four seconds.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox import SECRETS, Options, Sandbox, settings
from sandbox.demo import deploy_arguments
from sandbox.ecs import migration_lines
from sandbox.fab import FabRun, run_fab
from sandbox.health import FAILURE as HEALTH_FAILURE
from sandbox.seed import World
from sandbox.sleuth import Registration

PACE = {"migration_seconds": 0.3, "rollout_seconds": 0.5}
POLL_INTERVAL = 0.05
TIMEOUT = 15
# tasks-stop (every rollout FAILED, as worker's in worker-fails) plays the same emulator in-process, driven by a
# fake clock: tests/integration/test_deploy.py
FAULTS = ("migration-fails", "rollout-fails", "worker-fails", "rollout-hangs", "smoke-fails")
ROLLOUT_FAULTS = FAULTS[1:]
PREVIOUS = settings.RELEASE_TAG + "-previous"


@dataclass(frozen=True)
class Deploy:
    """One `fab deploy` against a fresh sandbox, and the sandbox's state read back afterwards."""

    run: FabRun
    world: World
    tags_before: dict[str, str]
    tags: dict[str, str]
    deployments_before: dict[str, str]  # service -> its PRIMARY deployment id before the deploy
    started_deployments: dict[str, list[str]]  # service -> deployment ids update_service created
    services: dict[str, dict[str, Any]]  # describe_services afterwards
    migrations: list[dict[str, Any]]  # describe_tasks of the one-off tasks that ran
    registrations: list[Registration]
    running_images: dict[str, dict[str, int]]  # service -> digest its running tasks run -> how many
    faults_played: list[tuple[str, str]]
    health_answers: list[int]  # what the application's health URL answered, in order

    def tail(self, count: int) -> str:
        return "\n".join(self.run.lines[-count:])

    @property
    def last_line(self) -> str:
        return self.run.lines[-1]

    def deployments(self, service: str) -> list[tuple[str, str, str | None]]:
        return [(d["id"], d["status"], d.get("rolloutState")) for d in self.services[service]["deployments"]]


def run_deploys(scenario: str, *, dry_first: bool = False, sleuth_failures: int = 0) -> list[Deploy]:
    """`fab deploy` against a fresh sandbox, after `fab --dry deploy` with `dry_first` (a dry run changes nothing,
    so the real one that follows meets the sandbox as it was seeded): what each left, in order."""
    options = Options(scenario=scenario, sleuth_failures=sleuth_failures, **PACE)
    with Sandbox(options) as sandbox, tempfile.TemporaryDirectory(prefix="e2e-") as directory:
        assert sandbox.world is not None
        config, _ = sandbox.write_files(directory, poll_interval=POLL_INTERVAL, timeout=TIMEOUT)
        arguments = deploy_arguments(sandbox.world, options)
        runs = [["--dry", *arguments]] if dry_first else []
        return [observe(sandbox, config, argv) for argv in [*runs, arguments]]


def observe(sandbox: Sandbox, config: Path, arguments: list[str]) -> Deploy:
    """Run `fab ARGUMENTS`, wait for ECS to settle, and read back what changed since just before it ran."""
    world, emulator = sandbox.world, sandbox.emulator
    assert world is not None
    tags_before = sandbox.image_tags()
    before = {name: s["deployments"][0]["id"] for name, s in sandbox.services().items()}
    seen = (len(emulator.started_deployments), len(emulator.one_off_tasks), len(sandbox.registrations),
            len(sandbox.faults.played), len(sandbox.health.answers))
    run = run_fab(sandbox, config, arguments, timeout=60)
    deadline = time.monotonic() + 5  # a rollout fab stopped watching may still be moving
    while not emulator.idle() and time.monotonic() < deadline:
        time.sleep(0.02)
    started: dict[str, list[str]] = {}
    for service, deployment_id in emulator.started_deployments[seen[0]:]:
        started.setdefault(service, []).append(deployment_id)
    tasks = emulator.one_off_tasks[seen[1]:]
    migrations = sandbox.client("ecs").describe_tasks(cluster=world.cluster, tasks=tasks)["tasks"] if tasks else []
    assert not emulator.errors, f"the ECS emulator failed: {emulator.errors}"
    return Deploy(
        run=run,
        world=world,
        tags_before=tags_before,
        tags=sandbox.image_tags(),
        deployments_before=before,
        started_deployments=started,
        services=sandbox.services(),
        migrations=migrations,
        registrations=list(sandbox.registrations[seen[2]:]),
        running_images=sandbox.running_images(),
        faults_played=list(sandbox.faults.played[seen[3]:]),
        health_answers=list(sandbox.health.answers[seen[4]:]),
    )


@pytest.fixture(scope="module")
def deploy() -> Iterator[Callable[..., Deploy]]:
    """The deploy of a scenario, run once per module; `dry=True`: the dry run made first in its sandbox (always
    made for success)."""
    cache: dict[tuple[str, bool, int], Deploy] = {}

    def get(scenario: str, *, dry: bool = False, sleuth_failures: int = 0) -> Deploy:
        if (scenario, dry, sleuth_failures) not in cache:
            dry_first = dry or scenario == "success"  # the tests read both: one sandbox serves them
            runs = run_deploys(scenario, dry_first=dry_first, sleuth_failures=sleuth_failures)
            if dry_first:
                cache[scenario, True, sleuth_failures] = runs[0]
            cache[scenario, False, sleuth_failures] = runs[-1]
        return cache[scenario, dry, sleuth_failures]

    yield get


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
    rolled_back = {"web"} if scenario == "rollout-fails" else set()  # ECS's own rollback is left alone
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


@pytest.mark.parametrize("scenario", ("success", "flaky-aws", "smoke-ready", *FAULTS))
def test_no_output_contains_a_credential(deploy: Callable[..., Deploy], scenario: str) -> None:
    output = deploy(scenario).run.output
    assert not [secret for secret in SECRETS if secret in output]
    # fab itself never shows a traceback; the failing migration's own log has one, streamed as log lines
    logged = sum("Traceback" in line for line in migration_lines(scenario))
    assert output.count("Traceback (most recent call last)") == logged, output
