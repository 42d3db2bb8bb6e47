"""The restart step: a new deployment of every service, followed to the end and checked (see rollout.py).

Assumptions: ECS resolves the release tag to a digest when it creates a deployment, and that deployment keeps
starting that digest (scale-out, replacements) whatever the tag says later. So putting a service back after a
failed deploy takes a *new* deployment once the release tag is back: every service whose new deployment
completed or may still be rolling (in progress, timed out, failed but still PRIMARY, or running the wrong
image) is redeployed; one the circuit breaker rolled back already runs its old deployment. The put-back is
checked like a deploy: each redeployed service's tasks must run the image the release tag named before.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from .. import rollout
from ..clock import duration
from ..ecr import short
from ..ecs import Service, arn_name
from ..errors import DeployError
from ..rollout import Expectation, Rollout
from . import Step

if TYPE_CHECKING:
    from ..target import Target


@dataclass
class Restart(Step):
    services: dict[str, Service]
    expect: Expectation | None  # what every task must run once the rollouts complete
    restore: Expectation | None  # what a put-back returns the services to; None: this restart changes no image
    name: str = "restart"
    rollouts: dict[str, Rollout] = field(default_factory=dict)
    back: dict[str, Rollout] = field(default_factory=dict)  # the put-back's own rollouts
    put_back_done: bool = False  # the put-back ran to its end
    # a new deployment resolves the release tag: it must name the old image again first
    put_back_after: ClassVar[tuple[str, ...]] = ("retag",)
    images: dict[str, Counter[str] | str] = field(default_factory=dict)  # after a failure: what each runs

    def describe(self) -> list[str]:
        lines = []
        for service in self.services.values():
            primary = service.primary
            td = arn_name(primary.task_definition if primary else service.task_definition)
            running = f"{service.running}/{service.desired} running"
            lines.append(f"force a new deployment of {service.name} ({td}, {running})")
        if self.expect is not None:
            lines.append(f"then check that every running task runs {short(self.expect.digest)}")
        return lines

    def run(self, target: Target) -> None:
        names = list(self.services)
        rollout.start(target.cluster, names, target.clock, target.say, self.rollouts, parallel=target.parallel)
        rollout.wait(target.cluster, self.rollouts, target.clock, timeout=target.timeout, interval=target.interval,
                     say=target.say, expect=self.expect)
        failed = [r for r in self.rollouts.values() if not r.ok]
        if failed:
            for line in rollout.explain(self.rollouts):
                target.say(line)
            raise DeployError("; ".join(f"{r.service} {r.state}" + (f" - {r.reason}" if r.reason else "")
                                        for r in failed))

    @property
    def verified(self) -> bool:
        """Every rollout completed and every running task was seen to run the expected image."""
        return (self.expect is not None and bool(self.rollouts)
                and all(r.ok and r.images is not None for r in self.rollouts.values()))

    def report(self) -> list[str]:
        """One line per service for the summary of a run that succeeded."""
        width = max((len(name) for name in self.rollouts), default=0)
        return [f"  {r.service:<{width}}  {r.state} {r.running}/{r.desired}"
                + (f" in {duration(r.seconds)}" if r.seconds is not None else "") + f", {r.runs()}"
                for r in self.rollouts.values()]

    def to_redeploy(self) -> list[str]:
        return [r.service for r in self.rollouts.values() if r.ongoing and r.service not in self.back]

    def put_back(self, target: Target) -> None:
        if self.restore is None:
            target.say("    services: this restart did not change the image; nothing to put back")
            self.put_back_done = True
            return
        names = self.to_redeploy()
        if names:
            target.say(f"    a new deployment of {', '.join(names)}: it resolves the restored release tag "
                       f"({short(self.restore.digest)})")
            rollout.start(target.cluster, names, target.clock, target.say, self.back, parallel=target.parallel)
            rollout.wait(target.cluster, self.back, target.clock, timeout=target.put_back_timeout,
                         interval=target.interval, say=target.say, expect=self.restore)
        self._read_images(target)
        failed = [r for r in self.back.values() if not r.ok]
        if failed:
            raise DeployError("services not put back: " + "; ".join(
                f"{r.service} {r.state}" + (f" - {r.reason}" if r.reason else "") for r in failed))
        self.put_back_done = True

    def _read_images(self, target: Target) -> None:
        """What every service runs now, for the report: from the put-back's own check, else read."""
        repository = self.expect.repository if self.expect else target.env.repository
        unknown = []
        for name in self.services:
            known = self.back.get(name) or (self.rollouts.get(name) if not self.back else None)
            if known is not None and known.images is not None:
                self.images[name] = known.images
            else:
                unknown.append(name)
        if not unknown:
            return
        try:
            self.images.update(rollout.running_images(target.cluster, unknown, repository))
        except DeployError as err:
            self.images.update({name: f"tasks not read ({err})" for name in unknown})

    def by_hand(self, target: Target) -> list[str]:
        if self.restore is None or self.put_back_done:
            return []
        names = [r.service for r in self.rollouts.values()
                 if r.ongoing and not (r.service in self.back and self.back[r.service].ok)]
        if not names:
            return []
        flags = " ".join(f"--service {name}" for name in names)
        return [f"fab restart --env {target.env.name} {flags}   # once the release tag is back"]

    def state(self, target: Target) -> list[str]:
        if not self.images and not self.back:
            self._read_images(target)
        lines = []
        for name in self.services:
            ours, back = self.rollouts.get(name), self.back.get(name)
            if ours is None:
                lines.append(f"service {name}: not restarted; it runs what it ran before")
                continue
            what = ours.line().rstrip(".")
            if back is not None:
                what += f"; put back: {back.state} {back.running}/{back.desired}" + (
                    f" in {duration(back.seconds)}" if back.seconds is not None else "") + (
                    f" - {back.reason}" if back.reason and not back.ok else "")
            elif not ours.done:
                what += " - the rollout continues in ECS"
            lines.append(f"service {what}; {self._runs(name)}")
        return lines

    def _runs(self, name: str) -> str:
        images = self.images.get(name)
        if images is None:
            return self.rollouts[name].runs()
        if isinstance(images, str):
            return images
        text = rollout.describe_images(images)
        for expectation, meaning in ((self.restore, "the image it ran before"), (self.expect, "the new image")):
            if expectation is not None and images and set(images) == {expectation.digest}:
                return f"{text} ({meaning})"
        return text
