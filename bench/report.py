"""The results as tables (Markdown, as docs/benchmark.md carries them) and the targets the benchmark was set."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from importlib import metadata
from typing import Any

from .measure import Pace, Tools
from .procs import version_of


def machine() -> dict[str, Any]:
    model = "?"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    except OSError:
        pass
    date = subprocess.run(["date"], capture_output=True, text=True).stdout.strip()
    return {"date": date, "nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


def versions(tools: Tools) -> dict[str, str]:
    found = {}
    for name in ("fabric", "invoke", "boto3", "botocore", "moto", "ecs-deploy", "awscli"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    if tools.aws:
        found["aws --version"] = version_of([tools.aws, "--version"])
    return found


def targets(results: dict[str, Any], pace: Pace) -> list[dict[str, Any]]:
    p = pace.poll_interval
    fab = [row for row in results["restart"] if row["tool"] == "fab"]
    worst_exit = max(row["exit_after_slowest_s"] for row in fab)
    worst_report = max(row["report_after_slowest_s"] for row in fab)
    per_poll = {row["n"]: row["describe_services_per_poll"] for row in fab if "phase" not in row}
    # at most one call per 10 services still pending: fewer once some rollouts are done
    per_poll_ok = all(v and max(v) <= math.ceil(n / 10) for n, v in per_poll.items())
    lags: dict[str, float] = {}
    for row in results["detection"]:
        if row["tool"] == "fab" and row["lag"]["max"] is not None:
            lags[row["truth"]] = max(lags.get(row["truth"], 0.0), row["lag"]["max"])
    right = all(set(row["verdicts"]) == {row["truth"]} for row in results["detection"] if row["tool"] == "fab")
    # a state change is seen at the next poll at the latest: the poll period bounds the lag
    bound = max(row["poll_period"]["max"] for row in fab if row["poll_period"]["max"] is not None)
    measured_ok = right and all(lag <= p for lag in lags.values())
    startup = results["startup"]
    migration = results["migration"]
    green = results.get("blue_green", [])
    green_worst = max((row["exit_after_slowest_s"] or 0.0 for row in green), default=0.0)
    green_calls = all(max(row["calls_per_poll"].get("DescribeServiceDeployments") or [0]) <= math.ceil(row["n"] / 20)
                      and max(row["calls_per_poll"].get("DescribeServices") or [0]) <= math.ceil(row["n"] / 10)
                      for row in green)
    return [
        {"target": f"a blue/green restart ends within one poll interval ({p:g} s) of ECS's last SUCCESSFUL",
         "measured": ", ".join(f"N={row['n']}: {_s(row['exit_after_slowest_s'])} s" for row in green) or "not run",
         "met": bool(green) and green_worst <= p and all(row["ok"] for row in green)},
        {"target": "per poll: ceil(N/20) DescribeServiceDeployments and ceil(N/10) DescribeServices",
         "measured": ", ".join(f"N={row['n']}: {row['calls_per_poll']}" for row in green) or "not run",
         "met": bool(green) and green_calls},
        {"target": f"N services finish within one poll interval ({p:g} s) of the slowest rollout",
         "measured": f"fab exits at worst {worst_exit:.2f} s after the slowest rollout ends (every N and phase); "
                     f"its last state line at worst {worst_report:.2f} s after",
         "met": worst_exit <= p or (f"NO for the exit, by {worst_exit - p:.2f} s; yes for the last state line"
                                    if worst_report <= p else False)},
        {"target": "one describe_services per 10 services per poll",
         "measured": ", ".join(f"N={n}: {'/'.join(map(str, v))}" for n, v in per_poll.items()), "met": per_poll_ok},
        {"target": f"detection lag <= one poll interval ({p:g} s), success and failure",
         "measured": ", ".join(f"{truth} max {lag:.2f} s" for truth, lag in lags.items())
         + ("" if right else "; WRONG VERDICT") + f"; worst case = the longest poll period, {bound:.3f} s",
         "met": (measured_ok and bound <= p) or ("measured yes; worst case NO, by "
                                                 f"{bound - p:.3f} s" if measured_ok else False)},
        {"target": "the migration's last log line is printed, every run",
         "measured": f"{migration['last_line_found']}/{migration['runs']} runs", "met":
         migration["last_line_found"] == migration["runs"]},
        {"target": "fab --list within 10% of bare Fabric",
         "measured": f"median {startup['ours']['median'] * 1000:.0f} ms vs {startup['bare']['median'] * 1000:.0f} ms: "
                     f"x{startup['ratio']:.2f} (min x{startup['min_ratio']:.2f}); importing tasks/ adds "
                     f"{_s((startup.get('import_tasks_s') or 0) * 1000, 1)} ms", "met": startup["ratio"] <= 1.10},
    ]


def _met(met: bool | str) -> str:
    return met if isinstance(met, str) else ("yes" if met else "NO")


def _s(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _calls(counts: dict[str, int]) -> str:
    short = {k.split(":", 1)[1]: v for k, v in counts.items()}
    return ", ".join(f"{op} {n}" for op, n in sorted(short.items(), key=lambda kv: (-kv[1], kv[0])))


def render(results: dict[str, Any]) -> str:
    pace = results["pace"]
    m = results["machine"]
    out = [
        f"Machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}, {m['system']}; {m['date']}",
        f"Pace: rollouts T = {pace['rollout_seconds']:g} s, poll_interval P = {pace['poll_interval']:g} s, "
        f"migration {pace['migration_seconds']:g} s. Tools: " + ", ".join(
            f"{k} {v}" for k, v in results["versions"].items() if k in ("fabric", "awscli", "ecs-deploy", "moto")),
        "",
        "### Restart of N services (wall time; x = ratio to fab at the same N)",
        "",
        "| N | fab | fab exits after slowest rollout (seen + checked + exited) | describe_services per poll "
        "| fab API calls | AWS CLI update + wait | ecs-deploy |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [row for row in results["restart"] if "phase" not in row]
    for n in sorted({row["n"] for row in rows}):
        fab = next(row for row in rows if row["tool"] == "fab" and row["n"] == n)
        cells = []
        for tool in ("aws-cli", "ecs-deploy"):
            peer = next((row for row in rows if row["tool"] == tool and row["n"] == n), None)
            if peer is None:
                cells.append("not run")
                continue
            ratio = peer["wall_s"] / fab["wall_s"]
            cells.append(f"{peer['wall_s']:.1f} s (x{ratio:.1f})" + ("" if peer["ok"] else " FAILED"))
        out.append(
            f"| {n} | {fab['wall_s']:.2f} s{'' if fab['ok'] else ' FAILED'} | {_s(fab['exit_after_slowest_s'])} s "
            f"({' + '.join(_s(fab['breakdown_s'][k]) for k in ('seen', 'checked', 'exited'))}) "
            f"| {'/'.join(map(str, fab['describe_services_per_poll']))} ({fab['polls']} polls) "
            f"| {fab['api_calls_total']}: {_calls(fab['api_calls'])} | {cells[0]} | {cells[1]} |"
        )
    sweep = [row for row in results["restart"] if "phase" in row]
    if sweep:
        out += ["", f"fab restart of N={sweep[0]['n']} with rollouts ending at other points between two polls: "
                + "; ".join(f"T+{row['phase']:g}P: exits {_s(row['exit_after_slowest_s'])} s after the slowest "
                            f"(last state line {_s(row['report_after_slowest_s'])} s)" for row in sweep)
                + ". Poll period at the server: " + ", ".join(
                    f"N={row['n']} median {_s(row['poll_period']['median'], 3)} s, "
                    f"max {_s(row['poll_period']['max'], 3)} s" for row in rows if row["tool"] == "fab")]
    peers = [row for row in rows if row["tool"] != "fab"]
    if peers:
        out += ["", "API calls of the other tools, per run: " + "; ".join(
            f"{row['tool']} N={row['n']}: {row['api_calls_total']} ({_calls(row['api_calls'])})" for row in peers)]
    out += [
        "",
        "### Detection lag: from the emulated ECS ending a rollout to the tool saying so",
        "",
        "| tool | scenario | rollout really ended | tool's verdict | lag median | lag max | runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["detection"]:
        verdicts = ", ".join(f"{v} x{n}" if n > 1 else v for v, n in row["verdicts"].items())
        if row.get("web_runs_afterwards"):
            verdicts += f"; web then on {row['web_runs_afterwards']}"
        lag = row["lag"]
        if row.get("killed_at_s"):
            median = maximum = f"no verdict after {row['killed_at_s']:g} s (stopped)"
        else:
            median, maximum = f"{_s(lag['median'])} s", f"{_s(lag['max'])} s"
        out.append(f"| {row['tool']} | {row['scenario']} | {row['truth']} | {verdicts} | {median} | {maximum} "
                   f"| {row['runs']} |")
    mig, st = results["migration"], results["startup"]
    out += [
        "",
        f"### Migration: last log line printed in {mig['last_line_found']}/{mig['runs']} runs of `fab migrate` "
        f"(line written {_s(mig['last_line_before_stop']['median'])} s before the task stopped; "
        f"fab took {_s(mig['wall']['median'])} s median)",
        "",
        f"### Start-up: `fab --list`, {st['runs']} runs each, alternating",
        "",
        "| fabfile | median | min | max |",
        "|---|---|---|---|",
        f"| ours (tasks/) | {st['ours']['median'] * 1000:.0f} ms | {st['ours']['min'] * 1000:.0f} ms "
        f"| {st['ours']['max'] * 1000:.0f} ms |",
        f"| bare Fabric (one @task) | {st['bare']['median'] * 1000:.0f} ms | {st['bare']['min'] * 1000:.0f} ms "
        f"| {st['bare']['max'] * 1000:.0f} ms |",
        f"| ratio | x{st['ratio']:.2f} | x{st['min_ratio']:.2f} | |",
        "",
        "### Blue/green restart of N services (0-minute bake), judged by their service deployments",
        "",
        "| N | fab | exits after ECS's last SUCCESSFUL | DescribeServices per poll | DescribeServiceDeployments "
        "per poll | fab API calls |",
        "|---|---|---|---|---|---|",
        *(f"| {row['n']} | {row['wall_s']:.2f} s{'' if row['ok'] else ' FAILED'} | {_s(row['exit_after_slowest_s'])} s "
          f"| {'/'.join(map(str, row['calls_per_poll'].get('DescribeServices', [])))} "
          f"| {'/'.join(map(str, row['calls_per_poll'].get('DescribeServiceDeployments', [])))} "
          f"| {row['api_calls_total']}: {_calls(row['api_calls'])} |" for row in results.get("blue_green", ())),
        "",
        "### Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *(f"| {t['target']} | {t['measured']} | {_met(t['met'])} |" for t in results["targets"]),
    ]
    return "\n".join(out)
