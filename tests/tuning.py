"""The test suite's own tuning, in one place: none of it changes what a test checks, only how fast the suite runs on
a machine of few cores. Loaded by conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import gc
import os
from typing import Any

import pytest

# The suite keeps hundreds of thousands of long-lived objects (botocore's service models, moto's backends), and
# CPython's default collection thresholds make it walk them again and again. These thresholds leave a few dozen
# young collections per worker; they cost a little memory, and cycles are still collected.
gc.set_threshold(100_000, 50, 100)


def pytest_xdist_auto_num_workers(config: Any) -> int:
    """`-n auto`: a worker per core, eight at most. Each worker pays a few seconds of CPU before its first test
    (imports, collection, the first world), and the suite is CPU-bound, so more workers than cores only add that
    cost (docs/development.md has the figures)."""
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
    is free, which keeps both busy to the end (a file per worker left one idle while the other ran two e2e files)."""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduler(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid.split("::", 1)[0] if nodeid.startswith("tests/e2e/") else nodeid

    return Scheduler(config, log)
