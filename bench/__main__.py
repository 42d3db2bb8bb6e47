"""`python -m bench [--quick] [--out FILE]`: run every measurement, print the tables, write the JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sandbox.fab import fab_executable

from . import measure, report
from .procs import executable

DEFAULT_OUT = Path(__file__).with_name("results.json")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=(__doc__ or "").strip())
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT.name})")
    p.add_argument("--rollout-seconds", type=float, default=3.0, help="T: how long each rollout takes (default 3)")
    p.add_argument("--poll-interval", type=float, default=1.0, help="P: fab's poll_interval (default 1)")
    p.add_argument("--migration-seconds", type=float, default=2.0, help="how long the migration task runs")
    p.add_argument("--sizes", default="1,2,5,12,20,50", help="numbers of services to restart (default 1,2,5,12,20,50)")
    p.add_argument("--repeat", type=int, default=2, help="fab restarts per size (default 2)")
    p.add_argument("--sweep", type=int, default=3, help="extra fab restarts of the largest N at other phases")
    p.add_argument("--aws-max", type=int, default=5, help="largest N for the AWS CLI (15 s a service; default 5)")
    p.add_argument("--ecs-deploy-max", type=int, default=10, help="largest N for ecs-deploy (default 10)")
    p.add_argument("--lag-repeat", type=int, default=3, help="fab restarts per outcome for detection lag")
    p.add_argument("--waiter-cap", type=float, default=20.0,
                   help="seconds to let the stock waiter wait on a FAILED rollout before stopping it (default 20)")
    p.add_argument("--migrations", type=int, default=10, help="`fab migrate` runs (default 10)")
    p.add_argument("--startup-repeat", type=int, default=25, help="`fab --list` runs per fabfile (default 25)")
    p.add_argument("--blue-green-sizes", default="1,12,25,50",
                   help="blue/green services to restart (default 1,12,25,50)")
    p.add_argument("--quick", action="store_true", help="a smoke run: small sizes, one repetition, no waiter")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.quick:
        args.sizes, args.repeat, args.sweep, args.aws_max, args.ecs_deploy_max = "1,2", 1, 1, 0, 1
        args.lag_repeat, args.migrations, args.startup_repeat = 1, 2, 3
        args.blue_green_sizes = "1,2"
    pace = measure.Pace(args.rollout_seconds, args.poll_interval, args.migration_seconds)
    tools = measure.Tools(fab=fab_executable(), aws=executable("aws"), ecs_deploy=executable("ecs"))
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731 - progress; the tables go to stdout
    for name, path in (("aws (AWS CLI)", tools.aws), ("ecs (ecs-deploy)", tools.ecs_deploy)):
        if path is None:
            say(f"warning: no `{name}` found: install the bench extra (pip install -e '.[test,bench]'); skipped")
    started = time.monotonic()
    sizes = [int(n) for n in args.sizes.split(",")]
    results: dict = {"machine": report.machine(), "versions": report.versions(tools), "pace": vars(pace)}
    say(f"1/5 restarts of N = {sizes} services (T={pace.rollout_seconds:g}s, P={pace.poll_interval:g}s)")
    results["restart"] = measure.restarts(pace, tools, sizes, repeat=args.repeat, sweep=args.sweep,
                                          aws_max=args.aws_max, ecs_deploy_max=args.ecs_deploy_max, say=say)
    say("2/5 detection lag: success, circuit-breaker rollback, FAILED")
    results["detection"] = measure.detection(pace, tools, repeat=args.lag_repeat, waiter_cap=args.waiter_cap, say=say)
    say("3/5 migration's last log line")
    results["migration"] = measure.migration(pace, tools, repeat=args.migrations, say=say)
    say("4/5 start-up of fab --list")
    results["startup"] = measure.startup(tools, repeat=args.startup_repeat, say=say)
    say("5/5 blue/green restarts, followed by their service deployments")
    results["blue_green"] = measure.blue_green(pace, tools, [int(n) for n in args.blue_green_sizes.split(",")],
                                               say=say)
    results["targets"] = report.targets(results, pace)
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    print(report.render(results))
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    say(f"done in {results['bench_seconds']:.0f}s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
