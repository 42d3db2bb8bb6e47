"""Copies of moto's state, so a world seeded through the AWS API once per process can be started again from a copy.

Seeding through the API costs tens of requests (a quarter of a second through the sandbox's server); restoring a
copy costs a few milliseconds. Assumptions (moto 5.2.5): a service's state for one account and region is one
backend object, `moto.backends.get_backend(service)[account][region]`, made of plain Python objects and, for ECR,
a lock; a deep copy with new locks is an independent backend that moto serves as it served the original.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from typing import Any

# What a seeded world lives in: images, cluster, services and task definitions, log groups, the default VPC's
# subnets and security group (their ids are random, so the copy keeps the ones the world was seeded with).
SEEDED_SERVICES = ("ecr", "ecs", "logs", "ec2")

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def save(account: str, region: str, services: Iterable[str] = SEEDED_SERVICES) -> dict[str, Any]:
    """A copy of each service's state in `account` and `region`, as it is now."""
    from moto.backends import get_backend

    return {name: _copy(get_backend(name)[account][region]) for name in services}  # type: ignore[call-overload]


def restore(saved: dict[str, Any], account: str, region: str) -> None:
    """Make moto serve a fresh copy of `saved` (what `save` returned) from now on; `saved` itself stays as it is."""
    from moto.backends import get_backend

    for name, backend in saved.items():
        get_backend(name)[account][region] = _copy(backend)  # type: ignore[call-overload]


def _copy(backend: Any) -> Any:
    """A deep copy of a moto backend; its locks are new locks, not copies (a lock does not copy)."""
    memo = {id(value): type(value)() for value in vars(backend).values() if isinstance(value, _LOCK_TYPES)}
    return copy.deepcopy(backend, memo)
