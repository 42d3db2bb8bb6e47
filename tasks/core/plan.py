"""A plan: what a task will change, in order, computed after every read. Rendered for a dry run, executed
otherwise (executor.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from .steps import Step

S = TypeVar("S")


@dataclass
class Plan:
    title: str
    steps: list[Step]
    facts: list[str] = field(default_factory=list)
    preflight: list[str] = field(default_factory=list)
    put_back_hint: str | None = None  # one command that puts the whole plan back, where there is one
    notices: list[str] = field(default_factory=list)  # said before anything runs, dry run or not

    def beyond_timeout(self, timeout: float) -> float:
        """Seconds its rollouts may wait beyond `timeout` (blue/green, linear and canary bakes), for the rollout
        and for a put-back rollout: what the deploy lock's deadline must add."""
        return sum(step.beyond_timeout(timeout) for step in self.steps)

    def render(self) -> list[str]:
        lines = [f"DRY RUN - {self.title}; nothing will be changed.", *self.notices, *self.facts]
        if self.preflight:
            lines += ["Preflight:", *self.preflight]
        lines.append("Plan:")
        for number, step in enumerate(self.steps, 1):
            details = step.describe()
            lines.append(f"  {number}. {step.name}: {details[0] if details else ''}")
            lines.extend(f"     {line}" for line in details[1:])
        return lines

    def step(self, kind: type[S]) -> S:
        """The plan's step of that type (the task that built the plan knows it is there)."""
        return next(s for s in self.steps if isinstance(s, kind))
