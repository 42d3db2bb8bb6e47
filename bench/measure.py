"""The measurements: restarts of N services, detection lag, the migration's last log line, `fab --list` start-up.

Assumptions: each measurement gets a fresh sandbox (or reuses one only for runs of the same size), so the
emulated AWS holds just what that measurement needs; between two runs the bench waits until the emulated ECS
is idle, so a rollout one tool left behind never overlaps the next. Rollouts take `Pace.rollout_seconds` from
`update_service` to their end state; `fab` polls every `Pace.poll_interval`. The AWS CLI and ecs-deploy run
the way a hand-written CI step runs them: one service after another, each waiting before the next starts.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import Options, Sandbox, settings
from sandbox.api_calls import ApiCall
from sandbox.ecs import RolloutEnd, migration_lines
from sandbox.fab import REPOSITORY_ROOT

from .procs import TimedRun, run_timed

FAB_TIMEOUT = 60  # deploy.timeout for fab: generous, the runs end long before
STATES = ("COMPLETED", "ROLLED_BACK", "FAILED", "TIMED_OUT")
BARE_FABFILE = '''from fabric import task


@task
def hello(c):
    """Say hello."""
    print("hello")
'''


@dataclass(frozen=True)
class Pace:
    rollout_seconds: float = 3.0
    poll_interval: float = 1.0
    migration_seconds: float = 2.0


@dataclass(frozen=True)
class Tools:
    fab: str
    aws: str | None
    ecs_deploy: str | None


@dataclass(frozen=True)
class Measurement:
    """Commands run one after another against one sandbox, with what the sandbox saw meanwhile."""

    runs: tuple[TimedRun, ...]
    ends: tuple[RolloutEnd, ...]  # rollouts the emulated ECS finished, in order
    calls: tuple[ApiCall, ...]  # API calls the emulated AWS answered

    @property
    def started(self) -> float:
        return self.runs[0].started

    @property
    def ended(self) -> float:
        return self.runs[-1].ended

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def last_rollout_end(self) -> float | None:
        return max((e.ended for e in self.ends), default=None)

    def end_of(self, service: str) -> RolloutEnd | None:
        return next((e for e in reversed(self.ends) if e.service == service), None)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(c.name for c in self.calls).items()))


class Session:
    """One sandbox, its `fabric.yaml` and the environment that points the tools at it."""

    def __init__(self, sandbox: Sandbox, config: Path, tools: Tools) -> None:
        self.sandbox = sandbox
        self.config = config
        self.tools = tools
        self.env = sandbox.process_environment()

    @property
    def services(self) -> tuple[str, ...]:
        assert self.sandbox.world is not None
        return self.sandbox.world.services

    def measure(self, commands: Sequence[Sequence[str]], *, limit: float = 180) -> Measurement:
        emulator = self.sandbox.emulator
        self.wait_idle()
        mark, ends_mark = self.sandbox.api_calls.mark(), len(emulator.ended_rollouts)
        runs = tuple(run_timed(c, env=self.env, cwd=REPOSITORY_ROOT, limit=limit) for c in commands)
        self.wait_idle()
        if emulator.errors:
            raise RuntimeError(f"the emulated ECS failed: {emulator.errors}")
        return Measurement(runs, tuple(emulator.ended_rollouts[ends_mark:]), tuple(self.sandbox.api_calls.since(mark)))

    @contextmanager
    def rollouts_taking(self, seconds: float) -> Iterator[None]:
        """Rollouts started meanwhile take `seconds` (a known phase against fab's polls), then the pace again."""
        emulator, before = self.sandbox.emulator, self.sandbox.emulator.rollout_seconds
        emulator.rollout_seconds = seconds
        try:
            yield
        finally:
            self.wait_idle()
            emulator.rollout_seconds = before

    def wait_idle(self) -> None:
        deadline = time.monotonic() + 3 * self.sandbox.options.rollout_seconds + 10
        while not self.sandbox.emulator.idle():
            if time.monotonic() > deadline:
                raise RuntimeError("the emulated ECS is still busy: a rollout never ended")
            time.sleep(0.02)

    # --- the tools' command lines ----------------------------------------------------------------------

    def fab(self, *arguments: str) -> list[str]:
        return [self.tools.fab, "-f", str(self.config), *arguments]

    def fab_restart(self) -> list[list[str]]:
        return [self.fab("restart", "--env", settings.ENVIRONMENT)]

    def aws_restart(self, services: Sequence[str]) -> list[list[str]]:
        """The common hand-written CI step: force a new deployment, wait until stable; one service after another."""
        assert self.tools.aws is not None
        aws, cluster = self.tools.aws, settings.CLUSTER
        commands = []
        for service in services:
            commands.append([aws, "ecs", "update-service", "--cluster", cluster, "--service", service,
                             "--force-new-deployment", "--query", "service.deployments[0].id", "--output", "text"])
            commands.append([aws, "ecs", "wait", "services-stable", "--cluster", cluster, "--services", service])
        return commands

    def ecs_deploy(self, services: Sequence[str]) -> list[list[str]]:
        """ecs-deploy's own way: a new task definition revision, then its own wait loop (1 s), per service."""
        assert self.tools.ecs_deploy is not None
        return [[self.tools.ecs_deploy, "deploy", settings.CLUSTER, s, "--timeout", str(FAB_TIMEOUT)] for s in services]


@contextmanager
def session(pace: Pace, tools: Tools, *, scenario: str = "success", services: dict[str, int] | None = None
            ) -> Iterator[Session]:
    extra: dict[str, Any] = {"services": services} if services else {}
    options = Options(scenario=scenario, rollout_seconds=pace.rollout_seconds,
                      migration_seconds=pace.migration_seconds, verbose=False, **extra)
    with Sandbox(options, show_ecs=False) as sandbox, tempfile.TemporaryDirectory(prefix="bench-") as directory:
        # The tools restart services on the image they run: the scenario's faults must apply to every image here
        # (in a deploy they belong to the new build only, so that a put-back onto the old one works).
        sandbox.emulator.broken = None
        config, _ = sandbox.write_files(directory, poll_interval=pace.poll_interval, timeout=FAB_TIMEOUT)
        yield Session(sandbox, config, tools)


# --- reading a run -----------------------------------------------------------------------------------------


def fab_reports(run: TimedRun, services: Sequence[str]) -> dict[str, tuple[str, float]]:
    """service -> (the end state fab printed first for it, when that line arrived)."""
    pattern = re.compile(rf"^\s+({'|'.join(map(re.escape, services))}): ({'|'.join(STATES)})\b")
    found: dict[str, tuple[str, float]] = {}
    for line in run.lines:
        match = pattern.match(line.text)
        if match and match[1] not in found:
            found[match[1]] = (match[2], line.at)
    return found


def polls(measurement: Measurement, interval: float) -> list[list[float]]:
    """The polls of the wait loop, as the server saw them: the `describe_services` calls after the first
    `update_service`, in bursts separated by more than half a poll interval (each burst: its calls' times)."""
    updates = [c.at for c in measurement.calls if c.operation == "UpdateService"]
    if not updates:
        return []
    bursts: list[list[float]] = []
    for call in measurement.calls:
        if call.operation != "DescribeServices" or call.at < updates[0]:
            continue
        if bursts and call.at - bursts[-1][-1] <= interval / 2:
            bursts[-1].append(call.at)
        else:
            bursts.append([call.at])
    return bursts


def phases(count: int) -> list[float]:
    """`count` fractions of a poll interval, spread from 0.1 to 0.9: when, between two of fab's polls, a rollout
    ends. A rollout of exactly a whole number of poll intervals would always end just before a poll and hide the
    lag, so the lag and finish measurements add these to the rollout time."""
    if count == 1:
        return [0.5]
    return [round(0.1 + 0.8 * i / (count - 1), 3) for i in range(count)]


def verdict(run: TimedRun) -> str:
    if run.killed:
        return "none (killed)"
    return "success" if run.exit_code == 0 else "failure"


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median": None, "max": None, "min": None}
    return {"n": len(values), "median": r(statistics.median(values)), "max": r(max(values)), "min": r(min(values))}


def r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


# --- 1 and 5: restart N services with fab, the AWS CLI and ecs-deploy ----------------------------------------


def fab_restart_row(m: Measurement, services: Sequence[str], pace: Pace) -> dict[str, Any]:
    (run,) = m.runs
    reports = fab_reports(run, services)
    last_end = m.last_rollout_end
    last_report = max((at for _, at in reports.values()), default=None)
    lags = [at - end.ended for s, (_, at) in reports.items() if (end := m.end_of(s)) is not None]
    bursts = polls(m, pace.poll_interval)
    per_poll = [len(b) for b in bursts]
    periods = [later[0] - earlier[0] for earlier, later in zip(bursts, bursts[1:], strict=False)]
    verdict_at = next((line.at for line in run.lines if line.text.startswith("restarted ")), None)
    return {
        "wall_s": r(m.seconds),
        # where the time after the slowest rollout goes: seen (its last state line), checked (every task's image
        # read: the verdict line), exited (the lock released, the process gone)
        "breakdown_s": {"seen": r(last_report - last_end) if last_end and last_report else None,
                        "checked": r(verdict_at - last_report) if verdict_at and last_report else None,
                        "exited": r(run.ended - verdict_at) if verdict_at else None},
        "ecs_s": r(last_end - min(e.started for e in m.ends)) if m.ends else None,
        "exit_after_slowest_s": r(run.ended - last_end) if last_end else None,
        "report_after_slowest_s": r(last_report - last_end) if last_end and last_report else None,
        "lag": summary(lags),
        "polls": len(per_poll),
        "describe_services_per_poll": sorted(set(per_poll)),
        "poll_period": summary(periods),  # from one poll's first call to the next one's, at the server
        "poll_work": summary([b[-1] - b[0] for b in bursts]),  # first to last describe_services call of a poll
        "api_calls": m.counts(),
        "api_calls_total": len(m.calls),
        "ok": run.exit_code == 0 and len(reports) == len(services)
        and all(state == "COMPLETED" for state, _ in reports.values()),
        "exit_code": run.exit_code,
    }


def peer_row(m: Measurement, services: Sequence[str], runs_per_service: int) -> dict[str, Any]:
    """A sequential tool: each service's last command is the one that waited for its rollout."""
    waits = m.runs[runs_per_service - 1 :: runs_per_service]
    lags = []
    for service, run in zip(services, waits, strict=True):
        end = m.end_of(service)
        if end is not None and not run.killed:
            lags.append(run.ended - end.ended)
    last_end = m.last_rollout_end
    return {
        "wall_s": r(m.seconds),
        "per_service_s": r(m.seconds / len(services)),
        "exit_after_slowest_s": r(m.ended - last_end) if last_end else None,
        "lag": summary(lags),
        "api_calls": m.counts(),
        "api_calls_total": len(m.calls),
        "ok": all(run.exit_code == 0 for run in m.runs),
        "exit_codes": sorted({run.exit_code for run in m.runs}, key=str),
    }


def restarts(pace: Pace, tools: Tools, sizes: Sequence[int], *, repeat: int, sweep: int, aws_max: int,
             ecs_deploy_max: int, say: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in sizes:
        with session(pace, tools, services=settings.numbered_services(n)) as s:
            fab_rows = []
            for _ in range(repeat):
                fab_rows.append(fab_restart_row(s.measure(s.fab_restart()), s.services, pace))
                say(f"  fab restart, N={n}: {fab_rows[-1]['wall_s']:.2f}s, ok={fab_rows[-1]['ok']}")
            walls = [row["wall_s"] for row in fab_rows]
            middle = sorted(fab_rows, key=lambda row: row["wall_s"])[len(fab_rows) // 2]  # the (upper) median run
            rows.append({"tool": "fab", "n": n, "runs": repeat, "walls_s": walls, **middle,
                         "wall_s": r(statistics.median(walls))})
            if n == max(sizes):  # the most work per poll: how long after the slowest rollout fab ends, at any phase
                for phase in phases(sweep):
                    with s.rollouts_taking(pace.rollout_seconds + phase * pace.poll_interval):
                        row = fab_restart_row(s.measure(s.fab_restart()), s.services, pace)
                    rows.append({"tool": "fab", "n": n, "runs": 1, "phase": phase, **row})
                    say(f"  fab restart, N={n}, rollouts T+{phase:g}P: exits {row['exit_after_slowest_s']:.2f}s "
                        "after the slowest")
            if tools.aws and n <= aws_max:
                row = peer_row(s.measure(s.aws_restart(s.services), limit=300), s.services, 2)
                say(f"  aws ecs update-service + wait services-stable, N={n}: {row['wall_s']:.2f}s")
                rows.append({"tool": "aws-cli", "n": n, "runs": 1, **row})
            if tools.ecs_deploy and n <= ecs_deploy_max:
                row = peer_row(s.measure(s.ecs_deploy(s.services), limit=300), s.services, 1)
                say(f"  ecs deploy, N={n}: {row['wall_s']:.2f}s")
                rows.append({"tool": "ecs-deploy", "n": n, "runs": 1, **row})
    return rows


# --- blue/green: a restart of N services followed by their service deployments ---------------------------------

POLL_OPERATIONS = ("DescribeServices", "DescribeServiceDeployments")


def calls_per_poll(m: Measurement, interval: float) -> dict[str, list[int]]:
    """Per operation of the wait loop, the distinct numbers of its calls in one poll (bursts of calls after the
    last UpdateService, separated by more than half a poll interval)."""
    updates = [c.at for c in m.calls if c.operation == "UpdateService"]
    if not updates:
        return {}
    bursts: list[list[ApiCall]] = []
    for call in m.calls:
        if call.operation not in POLL_OPERATIONS or call.at < updates[-1]:
            continue
        if bursts and call.at - bursts[-1][-1].at <= interval / 2:
            bursts[-1].append(call)
        else:
            bursts.append([call])
    return {op: sorted({sum(c.operation == op for c in burst) for burst in bursts}) for op in POLL_OPERATIONS}


def blue_green(pace: Pace, tools: Tools, sizes: Sequence[int], *, say: Any) -> list[dict[str, Any]]:
    """`fab restart` of N BLUE_GREEN services with a 0-minute bake: how long after ECS's last SUCCESSFUL fab ends,
    and the calls each poll makes (ceil(N/10) DescribeServices, ceil(N/20) DescribeServiceDeployments)."""
    rows: list[dict[str, Any]] = []
    for n in sizes:
        with session(pace, tools, services=settings.numbered_services(n)) as s:
            ecs = s.sandbox.client("ecs")
            for name in s.services:
                ecs.update_service(cluster=settings.CLUSTER, service=name, deploymentConfiguration={
                    "deploymentCircuitBreaker": {"enable": True, "rollback": True}, "maximumPercent": 200,
                    "minimumHealthyPercent": 100, "strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0})
            m = s.measure(s.fab_restart())
            row = {"tool": "fab", "strategy": "BLUE_GREEN", "n": n, **fab_restart_row(m, s.services, pace),
                   "calls_per_poll": calls_per_poll(m, pace.poll_interval)}
            rows.append(row)
            say(f"  fab restart, N={n} blue/green: exits {_seconds(row['exit_after_slowest_s'])} after the last "
                f"SUCCESSFUL, calls per poll {row['calls_per_poll']}")
    return rows


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}s"


# --- 2: detection lag for success, rollback and failure ---------------------------------------------------------

SCENARIO_TRUTH = {"success": "COMPLETED", "rollout-fails": "ROLLED_BACK", "tasks-stop": "FAILED"}


def detection(pace: Pace, tools: Tools, *, repeat: int, waiter_cap: float, say: Any) -> list[dict[str, Any]]:
    """Every tool on every outcome: fab and ecs-deploy (both poll about once a second) at `repeat` phases; the
    AWS CLI once (its waiter checks at once, then every 15 s, so the phase does not matter while T < 15 s)."""
    rows: list[dict[str, Any]] = []
    for scenario in SCENARIO_TRUTH:
        with session(pace, tools, scenario=scenario) as s:
            outcomes: list[tuple[str, str, str, float | None, float]] = []  # tool, truth, verdict, lag, seconds
            for phase in phases(repeat):
                with s.rollouts_taking(pace.rollout_seconds + phase * pace.poll_interval):
                    m = s.measure(s.fab_restart())
                for service, (state, at) in fab_reports(m.runs[0], s.services).items():
                    if (end := m.end_of(service)) is not None:
                        outcomes.append(("fab", end.state, state, at - end.ended, m.seconds))
            peers: list[tuple[str, list[list[str]], list[float], float]] = []
            if tools.aws:
                # on a FAILED deployment left beside the old one the service never looks stable: the waiter would
                # wait 40 x 15 s, so it is stopped at the cap
                cap = waiter_cap if scenario == "tasks-stop" else 300
                peers.append(("aws-cli", s.aws_restart(["web"]), [0.5], cap))
            if tools.ecs_deploy:  # after the AWS CLI: it deregisters task definitions, the CLI leaves them alone
                peers.append(("ecs-deploy", s.ecs_deploy(["web"]), phases(repeat), 300))
            after: dict[str, str] = {}
            for tool, commands, tool_phases, cap in peers:
                for phase in tool_phases:
                    with s.rollouts_taking(pace.rollout_seconds + phase * pace.poll_interval):
                        m = s.measure(commands, limit=cap)
                    run, end = m.runs[-1], m.end_of("web")
                    if end is not None:
                        lag = None if run.killed else run.ended - end.ended
                        outcomes.append((tool, end.state, verdict(run), lag, run.seconds))
                after[tool] = running_definition(s.sandbox, "web")
            for tool, truth in dict.fromkeys((o[0], o[1]) for o in outcomes):
                mine = [o for o in outcomes if (o[0], o[1]) == (tool, truth)]
                lags = [o[3] for o in mine if o[3] is not None]
                rows.append({
                    "tool": tool, "scenario": scenario, "truth": truth,
                    "verdicts": dict(Counter(o[2] for o in mine)), "runs": len(mine), "lag": summary(lags),
                    "longest_run_s": r(max(o[4] for o in mine)),
                    "killed_at_s": waiter_cap if any(o[3] is None for o in mine) else None,
                    # ecs-deploy registers a revision and deregisters the one it replaced: where did that leave web?
                    "web_runs_afterwards": after.get(tool) if tool == "ecs-deploy" and scenario != "success" else None,
                })
                say(f"  {tool}, {scenario}: {truth} -> {rows[-1]['verdicts']}, lag {rows[-1]['lag']}")
    return rows


def running_definition(sandbox: Sandbox, service: str) -> str:
    """`family:revision (STATUS)` of the task definition the service is on now."""
    ecs = sandbox.client("ecs")
    (described,) = ecs.describe_services(cluster=settings.CLUSTER, services=[service])["services"]
    definition = ecs.describe_task_definition(taskDefinition=described["taskDefinition"])["taskDefinition"]
    return f"{definition['family']}:{definition['revision']} ({definition['status']})"


# --- 3: the migration's last log line, written just before the task stops --------------------------------------


def migration(pace: Pace, tools: Tools, *, repeat: int, say: Any) -> dict[str, Any]:
    last = migration_lines("success")[-1]
    found, walls, gaps, codes = 0, [], [], Counter()
    with session(pace, tools) as s:
        for _ in range(repeat):
            (run,) = s.measure([s.fab("migrate", "--env", settings.ENVIRONMENT)]).runs
            found += any(line.text.rstrip().endswith(last) for line in run.lines)
            walls.append(run.seconds)
            codes[str(run.exit_code)] += 1
            gaps.append(last_line_before_stop(s.sandbox, s.sandbox.emulator.one_off_tasks[-1]))
    say(f"  fab migrate: last line printed in {found}/{repeat} runs")
    return {
        "runs": repeat,
        "last_line": last,
        "last_line_found": found,
        "last_line_before_stop": summary(gaps),  # as the emulated AWS recorded it: stoppedAt - the line's timestamp
        "exit_codes": dict(codes),
        "wall": summary(walls),
    }


def last_line_before_stop(sandbox: Sandbox, task_arn: str) -> float:
    """Seconds between the task's last log event and its stop, read back from the emulated AWS."""
    task_id = task_arn.rsplit("/", 1)[-1]
    events = sandbox.client("logs").get_log_events(
        logGroupName=settings.LOG_GROUP, logStreamName=f"migrate/{settings.CONTAINER}/{task_id}", startFromHead=True
    )["events"]
    (task,) = sandbox.client("ecs").describe_tasks(cluster=settings.CLUSTER, tasks=[task_arn])["tasks"]
    return task["stoppedAt"].timestamp() - events[-1]["timestamp"] / 1000


# --- 4: start-up of `fab --list`, ours against a fabfile that imports nothing but Fabric ------------------------


def startup(tools: Tools, *, repeat: int, say: Any) -> dict[str, Any]:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as bare:
        Path(bare, "fabfile.py").write_text(BARE_FABFILE)
        commands = {"ours": REPOSITORY_ROOT, "bare": Path(bare)}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(repeat + 2):  # two warm-up rounds, then alternate so drift hits both alike
            for name, cwd in commands.items():
                run = run_timed([tools.fab, "--list"], env=env, cwd=cwd, limit=60)
                if run.exit_code != 0:
                    raise RuntimeError(f"fab --list failed in {cwd}:\n{run.output}")
                if round_ >= 2:
                    times[name].append(run.seconds)
    ours, bare_ = statistics.median(times["ours"]), statistics.median(times["bare"])
    say(f"  fab --list: ours {ours * 1000:.0f} ms, bare Fabric {bare_ * 1000:.0f} ms, ratio {ours / bare_:.2f}")
    return {"runs": repeat, "ours": summary(times["ours"]), "bare": summary(times["bare"]),
            "ratio": r(ours / bare_), "min_ratio": r(min(times["ours"]) / min(times["bare"])),
            "import_tasks_s": import_time("tasks", after="fabric")}


def import_time(module: str, *, after: str, runs: int = 5) -> float | None:
    """Median seconds `import module` adds once `after` is imported (`python -X importtime`, cumulative)."""
    found = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {after}, {module}"],
                              cwd=REPOSITORY_ROOT, capture_output=True, text=True, timeout=60)
        for line in done.stderr.splitlines():
            fields = [f.strip() for f in line.removeprefix("import time:").split("|")]
            if len(fields) == 3 and fields[2] == module:
                found.append(int(fields[1]) / 1e6)
    return r(statistics.median(found), 4) if found else None
