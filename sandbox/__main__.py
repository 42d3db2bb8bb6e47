"""`python -m sandbox`: run the sandbox in the foreground and print what a user needs to point `fab` at it.

Every option also reads an environment variable (SANDBOX_SCENARIO, SANDBOX_MIGRATION_SECONDS, ...), so a
Makefile or a CI job can set the pace without editing the command. The fake AWS keys and Sleuth token go to
`sandbox.env` (owner-only) next to the generated `fabric.yaml`; they are never printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from . import settings
from .faults import KINDS, Fault
from .stack import Sandbox


def _env(name: str, default: str) -> str:
    return os.environ.get(f"SANDBOX_{name}", default)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Emulated AWS (ECR, ECS, CloudWatch Logs) and a Sleuth stand-in on 127.0.0.1, for trying "
        "the deploy tasks without an AWS account.",
        epilog="scenarios:\n" + "\n".join(f"  {name:16} {text}" for name, text in settings.SCENARIOS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--scenario", choices=list(settings.SCENARIOS), default=_env("SCENARIO", "success"))
    p.add_argument("--aws-port", type=int, default=int(_env("AWS_PORT", "0")), help="0: any free port")
    p.add_argument("--sleuth-port", type=int, default=int(_env("SLEUTH_PORT", "0")), help="0: any free port")
    p.add_argument(
        "--migration-seconds",
        type=float,
        default=float(_env("MIGRATION_SECONDS", "3")),
        help="how long a migration task runs (default 3)",
    )
    p.add_argument(
        "--rollout-seconds",
        type=float,
        default=float(_env("ROLLOUT_SECONDS", "4")),
        help="how long a rollout takes to finish or fail (default 4)",
    )
    p.add_argument(
        "--minute-seconds",
        type=float,
        default=float(_env("MINUTE_SECONDS", f"{settings.MINUTE_SECONDS:g}")),
        help="seconds one ECS minute of bake time or hook timeout lasts "
        f"(default {settings.MINUTE_SECONDS:g})",
    )
    p.add_argument(
        "--sleuth-failures",
        type=int,
        default=int(_env("SLEUTH_FAILURES", "0")),
        help="answer 503 this many times before accepting a registration (default 0)",
    )
    p.add_argument(
        "--fault",
        action="append",
        type=parse_fault,
        default=[],
        metavar="ACTION:KIND:COUNT[:AFTER]",
        help="fail COUNT calls of ACTION in a row after AFTER good ones; KIND is one of "
        f"{', '.join(KINDS)} (e.g. ecs:UpdateService:throttle:4); repeatable",
    )
    p.add_argument("--poll-interval", type=float, default=float(_env("POLL_INTERVAL", "1")), help="for fabric.yaml")
    p.add_argument(
        "--dir",
        type=Path,
        default=Path(_env("DIR", "")) if _env("DIR", "") else None,
        help="where to write fabric.yaml and sandbox.env (default: a new temp dir)",
    )
    return p


def parse_fault(text: str) -> Fault:
    """`ecs:UpdateService:throttle:4[:2]` as a Fault."""
    parts = text.split(":")
    if len(parts) not in (4, 5) or not all(parts) or not all(p.isdigit() for p in parts[3:]):
        raise argparse.ArgumentTypeError(
            f"{text!r}: write ACTION:KIND:COUNT[:AFTER], e.g. ecs:UpdateService:throttle:4")
    try:
        return Fault(f"{parts[0]}:{parts[1]}", parts[2], int(parts[3]), int(parts[4]) if len(parts) == 5 else 0)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def describe(sandbox: Sandbox, config_path: Path, env_path: Path) -> str:
    """What the foreground sandbox prints: where things are and the commands to run."""
    world = sandbox.world
    assert world is not None
    tags = sandbox.image_tags()
    services = ", ".join(
        f"{name} ({count} task{'s' if count != 1 else ''})" for name, count in settings.SERVICES.items()
    )
    variables = "\n".join(f"  {k}={v}" for k, v in sandbox.shown_environment().items())
    opts = sandbox.options
    return f"""\
Sandbox running, scenario {opts.scenario}: {settings.SCENARIOS[opts.scenario]}.
  emulated AWS     {sandbox.aws_endpoint}  (moto; account {world.account}, {world.region})
  Sleuth stand-in  {sandbox.sleuth_url}  (503 for the first {opts.sleuth_failures} requests; GET /_sandbox/requests)
  health URL       {sandbox.health.url}  ({opts.health}; wants Authorization: Bearer ${settings.SMOKE_TOKEN_VARIABLE})
  ECR {world.repository}: {settings.RELEASE_TAG} -> {world.current_sha} ({tags.get(settings.RELEASE_TAG)}), \
new build {world.new_sha} ({world.new_digest})
  ECS cluster {world.cluster}: services {services}; migration task definition {world.migration_task_definition}
  pace: migrations {opts.migration_seconds:g}s, rollouts {opts.rollout_seconds:g}s, \
an ECS minute {opts.minute_seconds:g}s
{strategies(sandbox)}
Environment ({env_path}; the AWS keys and the Sleuth token are fake and stay in that file):
{variables}

{config_path}:
{config_path.read_text()}
In another shell, from the repository root:
  source {env_path}
  fab -f {config_path} deploy --sha {world.new_sha} --tag {world.new_sha} --env {settings.ENVIRONMENT}
  fab -f {config_path} --dry deploy --sha {world.new_sha} --env {settings.ENVIRONMENT}
Press Ctrl-C to stop.
"""


def strategies(sandbox: Sandbox) -> str:
    """How each service deploys, as its deploymentConfiguration says (and whether the endpoint knows the
    service-deployment API)."""
    lines = []
    for name, service in sandbox.services().items():
        configuration = service.get("deploymentConfiguration") or {}
        lines.append(f"  ECS {name}: {configuration.get('strategy') or 'ROLLING'}"
                     + (f", bake {configuration['bakeTimeInMinutes']} min" if "bakeTimeInMinutes" in configuration
                        else ""))
    if not sandbox.options.deployments_api:
        lines.append("  the service-deployment API answers UnknownOperationException")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        options = settings.Options(
            scenario=args.scenario,
            migration_seconds=args.migration_seconds,
            rollout_seconds=args.rollout_seconds,
            minute_seconds=args.minute_seconds,
            sleuth_failures=args.sleuth_failures,
            faults=tuple(args.fault),
            aws_port=args.aws_port,
            sleuth_port=args.sleuth_port,
        )
    except ValueError as err:
        parser().error(str(err))
    # Without --dir, the files go to a temp dir removed on exit: they point at ports that close with the sandbox.
    temporary = None if args.dir else tempfile.TemporaryDirectory(prefix="sandbox-")
    directory = Path(temporary.name) if temporary is not None else args.dir
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or kill: stop cleanly, wherever it lands
        signal.signal(signum, lambda *_: stopped.set())
    with Sandbox(options, say=lambda line: print(f"[sandbox] {line}", flush=True)) as sandbox:
        config_path, env_path = sandbox.write_files(directory, poll_interval=args.poll_interval)
        print(describe(sandbox, config_path, env_path), flush=True)
        while not stopped.wait(0.5):
            pass
        print("\nSandbox stopped.", flush=True)
    if temporary is not None:
        temporary.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
