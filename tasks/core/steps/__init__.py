"""The steps a plan is made of. Each knows itself: what it will do, doing it, putting it back, and where it stands.

The executor (executor.py) runs steps in order and knows none of them by name. What every step offers:

- `describe()`: the plan lines a dry run shows (the first is the summary);
- `run(target)`: do it, saying what happens; a `DeployError` when it fails (what it changed so far is kept
  on the step, so a put-back half-way knows what to put back);
- `put_back(target)`: return what `run` changed to how it was, saying what it does; a `DeployError` when it
  cannot. A step names in `put_back_after` the steps whose put-back its own relies on (a new deployment
  resolves the release tag, so the tag must be back before the services are redeployed): `put_back_order`
  honours that, and otherwise keeps the order the steps ran in;
- `by_hand(target)`: the exact commands that would put back what is still changed, for an operator;
- `state(target)`: where what it touched stands now, for the report after a failure or Ctrl-C.

`Step` gives the defaults of a step that changes nothing a put-back could return (a migration, a request).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..target import Target


class Step:
    name: str
    put_back_after: ClassVar[tuple[str, ...]] = ()  # the names of steps whose put-back must come before this one's

    def describe(self) -> list[str]:
        raise NotImplementedError

    def run(self, target: Target) -> None:
        raise NotImplementedError

    def put_back(self, target: Target) -> None:
        """Nothing to put back."""

    def beyond_timeout(self, timeout: float) -> float:
        """Seconds its waits may take beyond `timeout` (none, for most steps)."""
        return 0.0

    def by_hand(self, target: Target) -> list[str]:
        return []

    def state(self, target: Target) -> list[str]:
        return []


def put_back_order(ran: Sequence[Step]) -> list[Step]:
    """The steps that ran, in the order their put-backs must go: each after the steps it names in
    `put_back_after`, otherwise in the order they ran."""
    pending, ordered = list(ran), []
    while pending:
        waiting = {s.name for s in pending}
        ready = next(s for s in pending if not waiting & set(s.put_back_after) - {s.name})
        ordered.append(ready)
        pending.remove(ready)
    return ordered
