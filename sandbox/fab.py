"""Run the real `fab` against a sandbox, the way a user would: from the repository root, with `fab -f FILE`.

Assumptions: `fab` finds `fabfile.py` upward from its working directory and reads the project's `fabric.yaml`
next to it; the sandbox's settings come in as a runtime config file (`-f`, the highest file level) plus
environment variables, so nothing in the repository is changed. `fab` is the one installed beside the
running Python (the project's virtualenv), else the first on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .stack import Sandbox

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def fab_executable() -> str:
    beside = Path(sys.executable).with_name("fab")
    if beside.exists():
        return str(beside)
    found = shutil.which("fab")
    if found is None:
        raise SystemExit("no `fab` found: install the project (make install) or activate its virtualenv")
    return found


@dataclass(frozen=True)
class FabRun:
    command: tuple[str, ...]
    exit_code: int
    output: str  # stdout and stderr, interleaved as a terminal shows them
    seconds: float

    @property
    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]


def run_fab(
    sandbox: Sandbox,
    config_file: Path,
    arguments: Sequence[str],
    *,
    echo: Callable[[str], None] | None = None,
    timeout: float = 120,
    extra: Mapping[str, str] | None = None,
) -> FabRun:
    """Run `fab -f config_file ARGUMENTS...` from the repository root against `sandbox`; return what it did.

    `echo` gets each output line as it arrives (the demo prints them live); `extra` are variables set on top of
    the sandbox's (e.g. a credentials' expiry, as CI would set it).
    """
    command = (fab_executable(), "-f", str(config_file), *arguments)
    started = time.monotonic()
    exit_code, output = stream(command, {**sandbox.process_environment(), **(extra or {})}, echo=echo,
                               timeout=timeout)
    return FabRun(command=command, exit_code=exit_code, output=output, seconds=time.monotonic() - started)


def stream(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    cwd: Path | str = REPOSITORY_ROOT,
    echo: Callable[[str], None] | None = None,
    timeout: float = 120,
) -> tuple[int, str]:
    """Run `command` (from the repository root by default); return its exit status and output.

    stdout and stderr come as one stream, as a terminal shows them; `echo` gets each line as it arrives. A command
    still running after `timeout` seconds is killed (exit status -9).
    """
    env = {**env, "PYTHONUNBUFFERED": "1"}  # lines as they happen, not when a pipe buffer fills
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines: list[str] = []
    assert process.stdout is not None
    killer = threading.Timer(timeout, process.kill)  # a hung deploy must not hang the caller
    killer.start()
    try:
        for line in process.stdout:
            lines.append(line)
            if echo is not None:
                echo(line.rstrip("\n"))
        exit_code = process.wait()
    finally:
        killer.cancel()
    return exit_code, "".join(lines)
