"""The steps a plan is made of. Each knows itself: what it will do, doing it, undoing it, and where it stands.

The executor (executor.py) runs steps in order and knows none of them by name. What every step offers:

- `describe()`: the plan lines a dry run shows (the first is the summary);
- `run(target)`: do it, saying what happens; a `DeployError` when it fails (what it changed so far is kept
  on the step, so an undo half-way knows what to undo);
- `undo(target)`: put back what `run` changed, saying what it does; a `DeployError` when it cannot. Undo runs
  in the order the steps ran, because a later step's undo relies on the earlier ones' (a new deployment
  resolves the release tag, so the tag must be back before the services are redeployed);
- `by_hand(target)`: the exact commands that would put back what is still changed, for an operator;
- `state(target)`: where what it touched stands now, for the report after a failure or Ctrl-C.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..target import Target


class Step(Protocol):
    name: str

    def describe(self) -> list[str]: ...

    def run(self, target: Target) -> None: ...

    def undo(self, target: Target) -> None: ...

    def by_hand(self, target: Target) -> list[str]: ...

    def state(self, target: Target) -> list[str]: ...
