"""How the benchmark (bench/, `make bench`) reads a run: state lines and describe calls grouped into polls."""

from __future__ import annotations

from bench.measure import Measurement, fab_reports, phases, polls
from bench.procs import Line, TimedRun
from sandbox.api_calls import ApiCall


def test_the_bench_reads_state_lines_and_groups_describe_calls_into_polls() -> None:
    run = TimedRun(
        ("fab",), 0, 0.0, 5.0,
        (Line(1.0, "    web: new deployment ecs-svc/1 (sandbox-web:1)"), Line(2.0, "    web: IN_PROGRESS 0/2 running"),
         Line(3.0, "    web: COMPLETED 2/2 running"), Line(3.5, "  service web: COMPLETED 2/2 running")),
    )
    assert fab_reports(run, ["web", "worker"]) == {"web": ("COMPLETED", 3.0)}
    calls = [ApiCall(0.0, "ecs", "DescribeServices"), ApiCall(0.1, "ecs", "UpdateService")] + [
        ApiCall(t, "ecs", "DescribeServices") for t in (0.2, 0.25, 1.2, 1.26, 2.2, 2.27)
    ]
    bursts = polls(Measurement((run,), (), tuple(calls)), interval=1.0)
    assert [len(b) for b in bursts] == [2, 2, 2]
    assert phases(3) == [0.1, 0.5, 0.9]
