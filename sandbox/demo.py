"""`make demo [SCENARIO=...]`: start the sandbox, run a real `fab deploy` against it, show what happened.

Exit status: 0 when the deploy ended the way the scenario means it to, 1 otherwise. For `success`,
`flaky-aws` and `smoke-ready` that is `fab` exiting 0 with the release tag on the new build, every service's
tasks on it and Sleuth told; for a fault scenario (a refusal by the preflight included) it is `fab` exiting 1
with the release tag back on (or still on) the current build, every service's tasks on it once ECS settles,
and Sleuth told nothing. So `make demo SCENARIO=worker-fails`
exits 0 after showing a failed deploy being put back, and a demo that exits 1 means the deploy tasks (or the
sandbox) misbehaved; the last line says which check failed and `fab`'s own status.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import settings
from .fab import run_fab
from .stack import Sandbox

SUCCEEDS = ("success", "flaky-aws", "smoke-ready", "blue-green", "no-deployments-api")
REFUSED = ("code-deploy",)  # the preflight refuses the deploy: nothing is changed, so nothing is put back


def deploy_arguments(world: Any, options: settings.Options | None = None) -> list[str]:
    arguments = ["deploy", "--sha", world.new_sha, "--tag", world.new_sha, "--env", settings.ENVIRONMENT]
    if options is not None and options.scenario in ("rollout-hangs", "bake-timeout", "linear-paused"):
        # a rollout that outlasts --timeout (hangs, bakes, or waits on a PAUSE hook)
        arguments += ["--timeout", f"{2 * max(options.migration_seconds, options.rollout_seconds):g}"]
    return arguments


def deployment_ids(sandbox: Sandbox) -> dict[str, str | None]:
    """Each service's PRIMARY deployment id (None for one another controller deploys: it has none)."""
    return {name: s["deployments"][0]["id"] if s["deployments"] else None for name, s in sandbox.services().items()}


def service_states(sandbox: Sandbox, before: dict[str, str | None]) -> dict[str, str]:
    """Each service's deployments, in words, against the PRIMARY deployment ids it had before the deploy."""
    states = {}
    for name, service in sandbox.services().items():
        parts = []
        for d in service["deployments"]:
            age = "old" if d["id"] == before.get(name) else "new"
            counts = f"{d['runningCount']}/{d['desiredCount']} running"
            parts.append(f"{d['status']} {age} {d['id']} {d.get('rolloutState', '?')} ({counts})")
        controller = service.get("deploymentController", {}).get("type", "ECS")
        states[name] = "; ".join(parts) or f"no deployments: the {controller} controller deploys it"
    return states


def check(sandbox: Sandbox, exit_code: int) -> list[str]:
    """What is wrong with the outcome for this scenario (empty when it is as the scenario means)."""
    world = sandbox.world
    assert world is not None
    success = sandbox.options.scenario in SUCCEEDS
    problems = []
    if exit_code != (0 if success else 1):
        problems.append(f"fab exited {exit_code}, the scenario expects {0 if success else 1}")
    latest = sandbox.image_tags().get(settings.RELEASE_TAG)
    wanted = world.new_digest if success else world.current_digest
    if latest != wanted:
        now, expected = sandbox.build_of(latest) or latest, sandbox.build_of(wanted)
        problems.append(f"{settings.RELEASE_TAG} points at {now}, expected {expected}")
    deadline = time.monotonic() + 10
    while not sandbox.emulator.idle() and time.monotonic() < deadline:  # a rollout fab left may still move
        time.sleep(0.05)
    for service, images in sandbox.running_images().items():
        if set(images) != {wanted}:
            runs = ", ".join(f"{count} on {sandbox.build_of(d) or d}" for d, count in images.items())
            problems.append(f"{service}'s tasks run {runs or 'nothing'}, expected {sandbox.build_of(wanted)}")
    accepted = [r for r in sandbox.registrations if r.status == 200]
    if success and not accepted:
        problems.append("Sleuth was not told about the deploy")
    if not success and sandbox.registrations:
        problems.append("Sleuth was contacted after a failed deploy")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sandbox.demo", description=__doc__.splitlines()[0])
    p.add_argument("--scenario", choices=list(settings.SCENARIOS), default=os.environ.get("SCENARIO") or "success")
    p.add_argument("--migration-seconds", type=float, default=3.0)
    p.add_argument("--rollout-seconds", type=float, default=4.0)
    p.add_argument("--poll-interval", type=float, default=1.0)
    p.add_argument("--sleuth-failures", type=int, default=0)
    args = p.parse_args(argv)
    options = settings.Options(
        scenario=args.scenario,
        migration_seconds=args.migration_seconds,
        rollout_seconds=args.rollout_seconds,
        sleuth_failures=args.sleuth_failures,
    )

    def say(line: str) -> None:
        print(f"    [sandbox] {line}", flush=True)

    print(f"== Sandbox scenario {options.scenario}: {settings.SCENARIOS[options.scenario]}", flush=True)
    # The config and env files are of no use once the sandbox is gone: a temp dir that goes with it.
    with (
        Sandbox(options, say=say, show_ecs=False) as sandbox,
        tempfile.TemporaryDirectory(prefix="sandbox-demo-") as tmp,
    ):
        world = sandbox.world
        assert world is not None
        config_path, _ = sandbox.write_files(Path(tmp), poll_interval=args.poll_interval)
        before = deployment_ids(sandbox)
        print(
            f"   emulated AWS on {sandbox.aws_endpoint}, Sleuth stand-in on {sandbox.sleuth_url}\n"
            f"   ECR {world.repository}: {settings.RELEASE_TAG} is build {world.current_sha}; "
            f"CI has pushed build {world.new_sha}\n"
            f"   config: {config_path} (environment {settings.ENVIRONMENT!r})",
            flush=True,
        )
        arguments = deploy_arguments(world, options)
        print(f"\n$ fab -f {config_path} {' '.join(arguments)}", flush=True)
        run = run_fab(sandbox, config_path, arguments, echo=lambda line: print(line, flush=True))
        tags = sandbox.image_tags()
        print(f"\n== After the deploy, read back from the sandbox ({run.seconds:.1f}s)")
        for tag in (settings.RELEASE_TAG, settings.RELEASE_TAG + "-previous"):
            digest = tags.get(tag)
            print(
                f"   ECR {world.repository}:{tag:<16} -> {digest or '(no such tag)'} (build {sandbox.build_of(digest)})"
            )
        for name, state in service_states(sandbox, before).items():
            print(f"   ECS {name:<7} {state}")
        registrations = sandbox.registrations
        print(f"   Sleuth received {len(registrations)} request(s)" + (":" if registrations else ""))
        for r in registrations:
            sha = r.body.get("sha") if isinstance(r.body, dict) else repr(r.body)
            print(f"     {r.status} {r.path} sha={sha}")
        problems = check(sandbox, run.exit_code)
    if problems:
        print(f"== DEMO FAILED (fab exit status {run.exit_code}): " + "; ".join(problems), flush=True)
        return 1
    outcome = ("succeeded" if options.scenario in SUCCEEDS else "was refused before any change, as this scenario "
               "means it to" if options.scenario in REFUSED
               else "failed, as this scenario means it to, and was put back")
    print(f"== fab exit status {run.exit_code}: the deploy {outcome}. Demo OK.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
