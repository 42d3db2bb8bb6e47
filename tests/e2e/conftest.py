"""The e2e layer's fixture: `deploy(scenario)` runs `fab deploy` against a fresh sandbox once per test module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from e2e.deploys import Deploy, deploys


@pytest.fixture(scope="module")
def deploy() -> Iterator[Callable[..., Deploy]]:
    yield from deploys()
