"""How long `fab restart` takes to start N new deployments, one after another or 8 at a time, with and without a
per-call latency like real AWS's: `python -m bench.starts`.

Assumptions: against the emulator a call takes milliseconds, against real AWS tens to hundreds (the sandbox's
`latency` plays that, for the tool's calls only). What the tool adds is measured at the emulated AWS, from the
requests themselves: the spread from the first UpdateService to the last, and the whole run's wall time beyond
the rollout itself (every rollout takes `ROLLOUT_SECONDS` from its UpdateService).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sandbox import Options, Sandbox, settings
from sandbox.fab import run_fab

ROLLOUT_SECONDS = 1.0
POLL_INTERVAL = 0.25


def one(services: int, latency: float, parallel: int) -> dict[str, float | int]:
    options = Options(services=settings.numbered_services(services), rollout_seconds=ROLLOUT_SECONDS,
                      migration_seconds=0.5, latency=latency, verbose=False)
    with Sandbox(options, show_ecs=False) as sandbox, tempfile.TemporaryDirectory(prefix="bench-") as directory:
        config, _ = sandbox.write_files(directory, poll_interval=POLL_INTERVAL, timeout=60, parallel=parallel)
        mark = sandbox.api_calls.mark()
        run = run_fab(sandbox, config, ["restart", "--env", settings.ENVIRONMENT], timeout=300)
        if run.exit_code != 0:
            raise RuntimeError(f"fab restart failed:\n{run.output}")
        updates = [c.at for c in sandbox.api_calls.since(mark) if c.operation == "UpdateService"]
        calls = len(sandbox.api_calls.since(mark))
    return {"services": services, "latency": latency, "parallel": parallel, "seconds": round(run.seconds, 2),
            "start_spread": round(max(updates) - min(updates), 3), "added": round(run.seconds - ROLLOUT_SECONDS, 2),
            "calls": calls}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.starts", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1,12,50")
    p.add_argument("--latencies", default="0,0.1")
    p.add_argument("--out", type=Path, default=Path(__file__).with_name("starts.json"))
    args = p.parse_args(argv)
    rows = []
    for services in (int(n) for n in args.sizes.split(",")):
        for latency in (float(x) for x in args.latencies.split(",")):
            for parallel in (1, 8):
                row = one(services, latency, parallel)
                rows.append(row)
                print(json.dumps(row), flush=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print("| N | latency per call | one after another: starts spread / wall | 8 at a time: starts spread / wall |")
    print("| ---: | ---: | ---: | ---: |")
    for services in sorted({r["services"] for r in rows}):
        for latency in sorted({r["latency"] for r in rows}):
            one_by_one, eight = (next(r for r in rows if (r["services"], r["latency"], r["parallel"]) ==
                                      (services, latency, p)) for p in (1, 8))
            print(f"| {services} | {latency * 1000:.0f} ms | {one_by_one['start_spread']:.2f} s / "
                  f"{one_by_one['seconds']:.2f} s | {eight['start_spread']:.2f} s / {eight['seconds']:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
