"""The smoke step: after every rollout completed on the image it should run, ask the application itself.

Assumptions: a rollout ECS calls COMPLETED only means the tasks passed their container and load-balancer
health checks; the environment's health URL (`smoke`) says whether the application works. It is asked on
the poll schedule until it answers the expected status or the smoke timeout passes; a connection error, a
timeout and any other status are all "not yet", since a load balancer may take a moment to send traffic to
the new tasks. A failure is the plan's failure: the executor then puts every earlier step back (the release
tag, and a new deployment of every service on the image it ran before). The step changes nothing, so it has
nothing to put back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..clock import duration, poll
from ..errors import DeployError
from ..smoke import Answer, Probe
from . import Step

if TYPE_CHECKING:
    from ..target import Target


@dataclass
class Smoke(Step):
    probe: Probe
    interval: float  # seconds between two requests: the environment's poll interval
    name: str = "smoke"
    answer: Answer | None = None  # the last answer
    requests: int = 0
    seconds: float | None = None  # from the first request to the last
    passed: bool = False

    @property
    def url(self) -> str:
        return self.probe.settings.url

    def describe(self) -> list[str]:
        return self.probe.describe(self.interval)

    def run(self, target: Target) -> None:
        settings, clock, say = self.probe.settings, target.clock, target.say
        say(f"    GET {self.url}, until it answers {settings.expect} (up to {duration(settings.timeout)})")
        started = clock.monotonic()
        said = None
        for elapsed in poll(clock, interval=self.interval, timeout=settings.timeout):
            self.answer = self.probe.ask(timeout=settings.timeout - elapsed)
            self.requests += 1
            self.seconds = clock.monotonic() - started
            if self.answer.status == settings.expect:
                self.passed = True
                say(f"    answered {self.answer} after {duration(self.seconds)} ({self._count()})")
                return
            if self.answer.kind != said:  # a line when the answer changes, not one per request
                said = self.answer.kind
                say(f"    {self.answer}; asking again every {duration(self.interval)}")
        raise DeployError(f"{self.url} did not answer {settings.expect} within {duration(settings.timeout)} "
                          f"({self._count()}); the last answer: {self.answer}")

    def _count(self) -> str:
        return f"{self.requests} request{'s' if self.requests != 1 else ''}"

    def report(self) -> str:
        """The summary's line for a run that succeeded."""
        return f"  smoke check: {self.url} answered {self.probe.settings.expect} after " \
               f"{duration(self.seconds or 0.0)} ({self._count()})"

    def state(self, target: Target) -> list[str]:
        if self.answer is None:
            return []
        verdict = "answered as expected" if self.passed else f"never answered {self.probe.settings.expect}"
        return [f"smoke check: {self.url} {verdict} ({self._count()}); the last answer: {self.answer}"]
