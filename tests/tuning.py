"""The test suite's own tuning, in one place: none of it changes what a test checks, only how fast the suite runs on
a machine of few cores. Loaded by conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import gc
import os
from typing import Any

import pytest

# The suite keeps hundreds of thousands of long-lived objects (botocore's service models, moto's backends), and
# CPython's default collection thresholds make it walk them again and again: about a sixth of the in-process
# tests' CPU time. These thresholds leave about 50 young collections and 4 older ones per worker, 1.2-1.4 s in all
# (2-2.4 s with (20_000, 20, 20)); they cost a little memory, and cycles are still collected.
gc.set_threshold(100_000, 50, 100)


def pytest_xdist_auto_num_workers(config: Any) -> int:
    """`-n auto`: a worker per core, eight at most. Each worker pays a few seconds of CPU before its first test
    (imports, collection, the first world), and the suite is CPU-bound: on 2 cores, two workers took 70 s and
    110 s of CPU, four took 82 s and 142 s."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, 8)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: Any) -> None:
    """After pytest's own last collection (it reports finalizers that raised): freeze what is still alive, so the
    collections that pytest's clean-up and the interpreter's exit run next skip the objects of moto's backends and
    botocore's models, which nothing needs any more."""
    gc.freeze()


def pytest_xdist_make_scheduler(config: Any, log: Any) -> Any:
    """How xdist hands out the tests: an e2e module's tests go to one worker together (they share a sandbox and the
    deploys run in it, a module-scoped fixture built once); every other test goes, on its own, to whichever worker
    is free, which keeps both busy to the end (idle, 53-56 s instead of 59-61 s with a file per worker)."""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduler(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid.split("::", 1)[0] if nodeid.startswith("tests/e2e/") else nodeid

    return Scheduler(config, log)
