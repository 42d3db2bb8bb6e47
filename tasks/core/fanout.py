"""Many independent AWS calls at once: against real AWS each takes tens to hundreds of milliseconds, so 50
services read one after another cost seconds that a few threads save. A boto3 client is thread-safe (a
session is not: clients are made before, on one thread).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def fan_out(work: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """`work` on every item, `workers` at a time; the results in the items' order.

    The first exception is raised once the calls in flight have finished; after Ctrl-C (or SIGTERM) the calls
    already sent are waited for, each one request, and the others are never sent.
    """
    if workers <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="aws")
    try:
        futures = [pool.submit(work, item) for item in items]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
