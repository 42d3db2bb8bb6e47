"""What the e2e deploy tests share: one `fab deploy` against a fresh sandbox per scenario, and what it left.

What is read back is what a user or an auditor checks afterwards: fab's exit status and lines, where the release
tag and `latest-previous` point in ECR, which services ECS was asked to redeploy and how each ended, which image
every service's tasks run once ECS settles, the one-off migration tasks, and what Sleuth and the application's
health URL saw. Pace: migrations 0.3 s, rollouts 0.5 s, `poll_interval` 0.2 s (each poll is a request both fab
and the sandbox spend CPU on: 0.05 s cost a tenth more of the layer's CPU for the same checks), so one deploy takes
two to four seconds.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import Options, Sandbox, settings
from sandbox.demo import deploy_arguments
from sandbox.fab import FabRun, run_fab
from sandbox.faults import Fault
from sandbox.seed import World
from sandbox.sleuth import Registration

PACE = {"migration_seconds": 0.3, "rollout_seconds": 0.5}
POLL_INTERVAL = 0.2
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
    locks: list[str]  # deploy locks (SSM parameters) still held afterwards

    def tail(self, count: int) -> str:
        return "\n".join(self.run.lines[-count:])

    @property
    def last_line(self) -> str:
        return self.run.lines[-1]

    def deployments(self, service: str) -> list[tuple[str, str, str | None]]:
        return [(d["id"], d["status"], d.get("rolloutState")) for d in self.services[service]["deployments"]]


def run_deploys(scenario: str, *, dry_first: bool = False, sleuth_failures: int = 0,
                faults: tuple[Fault, ...] = (), extra: dict[str, str] | None = None,
                prepare: Callable[[Sandbox, Path], dict[str, str]] | None = None) -> list[Deploy]:
    """`fab deploy` against a fresh sandbox, after `fab --dry deploy` with `dry_first` (a dry run changes nothing,
    so the real one that follows meets the sandbox as it was seeded): what each left, in order. `faults` are AWS
    calls the sandbox fails (sandbox/faults.py), counted from the first call fab makes; `extra` variables for fab;
    `prepare(sandbox, directory)`, run once the sandbox started, returns more (a credentials file it wrote)."""
    options = Options(scenario=scenario, sleuth_failures=sleuth_failures, faults=faults, **PACE)
    with Sandbox(options) as sandbox, tempfile.TemporaryDirectory(prefix="e2e-") as directory:
        assert sandbox.world is not None
        config, _ = sandbox.write_files(directory, poll_interval=POLL_INTERVAL, timeout=TIMEOUT)
        if prepare is not None:
            extra = {**(extra or {}), **prepare(sandbox, Path(directory))}
        arguments = deploy_arguments(sandbox.world, options)
        runs = [["--dry", *arguments]] if dry_first else []
        return [observe(sandbox, config, argv, extra) for argv in [*runs, arguments]]


def observe(sandbox: Sandbox, config: Path, arguments: list[str], extra: dict[str, str] | None = None) -> Deploy:
    """Run `fab ARGUMENTS`, wait for ECS to settle, and read back what changed since just before it ran."""
    world, emulator = sandbox.world, sandbox.emulator
    assert world is not None
    tags_before = sandbox.image_tags()
    before = {name: s["deployments"][0]["id"] for name, s in sandbox.services().items()}
    # what earlier runs in this sandbox left in each record: this run's part starts after it
    started_before, tasks_before, registrations_before, faults_before, answers_before = (
        len(emulator.started_deployments), len(emulator.one_off_tasks), len(sandbox.registrations),
        len(sandbox.faults.played), len(sandbox.health.answers))
    run = run_fab(sandbox, config, arguments, timeout=60, extra=extra)
    deadline = time.monotonic() + 5  # a rollout fab stopped watching may still be moving
    while not emulator.idle() and time.monotonic() < deadline:
        time.sleep(0.02)
    started: dict[str, list[str]] = {}
    for service, deployment_id in emulator.started_deployments[started_before:]:
        started.setdefault(service, []).append(deployment_id)
    tasks = emulator.one_off_tasks[tasks_before:]
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
        registrations=list(sandbox.registrations[registrations_before:]),
        running_images=sandbox.running_images(),
        faults_played=list(sandbox.faults.played[faults_before:]),
        health_answers=list(sandbox.health.answers[answers_before:]),
        locks=[p["Name"] for p in sandbox.client("ssm").get_parameters_by_path(Path="/", Recursive=True)["Parameters"]
               if p["Name"].endswith("/lock")],
    )


def deploys() -> Iterator[Callable[..., Deploy]]:
    """`deploy(scenario)`: the deploy of a scenario, run once (the `deploy` fixture keeps one per test module);
    `dry=True`: the dry run made first in its sandbox (always made for success)."""
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
