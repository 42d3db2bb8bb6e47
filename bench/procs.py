"""Run a command line as a subprocess and timestamp each output line as it arrives.

Assumptions: the tools are Python programs, so `PYTHONUNBUFFERED=1` (set by `sandbox.fab.stream`, which runs
them) makes them write each line when it is printed rather than when a pipe buffer fills; stdout and stderr are
read as one stream, as a CI log shows them. Times are `time.monotonic()` of this process, the clock the sandbox
stamps its rollouts with.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sandbox.fab import REPOSITORY_ROOT, stream


@dataclass(frozen=True)
class Line:
    at: float
    text: str


@dataclass(frozen=True)
class TimedRun:
    command: tuple[str, ...]
    exit_code: int | None  # None: killed at the time limit
    started: float
    ended: float
    lines: tuple[Line, ...]

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def killed(self) -> bool:
        return self.exit_code is None

    @property
    def output(self) -> str:
        return "\n".join(line.text for line in self.lines)


def run_timed(
    command: Sequence[str], *, env: Mapping[str, str], cwd: Path | str | None = None, limit: float = 180
) -> TimedRun:
    """Run `command` to its end (or kill it after `limit` seconds); every output line with its arrival time."""
    lines: list[Line] = []
    started = time.monotonic()
    code, _ = stream(command, env, cwd=cwd or REPOSITORY_ROOT, timeout=limit,
                     echo=lambda text: lines.append(Line(time.monotonic(), text)))
    ended = time.monotonic()
    return TimedRun(tuple(command), None if code == -signal.SIGKILL else code, started, ended, tuple(lines))


def executable(name: str) -> str | None:
    """The program installed beside this Python (the bench's virtualenv), else the first on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def version_of(command: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"unavailable ({err})"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else "?"
