"""The restart step: a new deployment of every service, followed to the end and checked (see rollout.py).

Assumptions: ECS resolves the release tag to a digest when it creates a deployment, and that deployment keeps
starting that digest (scale-out, replacements) whatever the tag says later. So putting a service back after a
failed deploy takes a *new* deployment once the release tag is back: every service whose new deployment
completed or may still be rolling (in progress, timed out, failed but still PRIMARY, or running the wrong
image) is redeployed; one the circuit breaker rolled back already runs its old deployment. A deployment ECS is
still working on (a blue/green deployment baking, a rolling one that timed out) is not stacked on: it is stopped
with `StopServiceDeployment(stopType=ROLLBACK)`, and ECS returns the service to the revision, and so the digest, it
ran before. The put-back is checked like a deploy: each service's tasks must run the image the release tag named
before. `fab rollback` (`stop_ongoing`) first rolls back a deployment still in flight the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from .. import rollout
from ..aws import expired_at
from ..clock import duration, span
from ..ecr import short
from ..ecs import Service, arn_name
from ..errors import DeployError
from ..rollout import Expectation, Rollout
from ..service_deployments import not_offered, strategy_seconds
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
    stop_ongoing: bool = False  # first roll back, in place, any deployment ECS is still working on (fab rollback)
    allowed: dict[str, float] = field(default_factory=dict)  # seconds each rollout may take, bake times counted

    def describe(self) -> list[str]:
        lines = []
        for service in self.services.values():
            primary = service.primary
            td = arn_name(primary.task_definition if primary else service.task_definition)
            running = f"{service.running}/{service.desired} running"
            how = "rolling" if service.strategy == "ROLLING" else service.strategy
            bakes = strategy_seconds(service.deployment_configuration)
            time = f", bakes {span(bakes)}" if bakes else ""
            allowed = f", allowed {span(self.allowed[service.name])}" if service.name in self.allowed else ""
            lines.append(f"force a new deployment of {service.name} ({td}, {running}; {how}{time}{allowed})")
        if self.expect is not None:
            lines.append(f"then check that every running task runs {short(self.expect.digest)}")
        return lines

    def run(self, target: Target) -> None:
        names = list(self.services)
        # each PRIMARY as the preflight read it, unless a deployment in flight is rolled back first (a new one)
        primaries = {} if self.stop_ongoing else {n: s.primary.id for n, s in self._known().items() if s.primary}
        if self.stop_ongoing:
            names = self._roll_back_ongoing(target, names)
        rollout.start(target.cluster, names, target.clock, target.say, self.rollouts, parallel=target.parallel,
                      known=self._known(), allowed=lambda s: self.allowed.get(s.name, target.timeout),
                      primaries=primaries)
        self._wait(target, self.rollouts, target.timeout, self.expect)
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

    def beyond_timeout(self, timeout: float) -> float:
        """Its bake times beyond `timeout`, for the rollout and again for a put-back rollout."""
        return 2 * max(0.0, max(self.allowed.values(), default=timeout) - timeout)

    def to_redeploy(self) -> list[str]:
        return [r.service for r in self.rollouts.values() if r.ongoing and r.service not in self.back]

    def put_back(self, target: Target) -> None:
        if self.restore is None:
            target.say("    services: this restart did not change the image; nothing to put back")
            self.put_back_done = True
            return
        for name in [name for name, r in self.back.items() if r.state == rollout.NOT_STARTED]:
            del self.back[name]  # a put-back tried again (on fresh credentials) starts those again
        names = self._stop_in_flight(target, [r for r in self.rollouts.values() if r.in_flight
                                              and r.service not in self.back])
        names += [name for name in self.to_redeploy() if name not in self.back and name not in names]
        for attempt in range(2):  # again for any whose deployment completed before the rollback took
            if names:
                target.say(f"    a new deployment of {', '.join(names)}: it resolves the restored release tag "
                           f"({short(self.restore.digest)})")
                for name in names:
                    self.back.pop(name, None)
                rollout.start(target.cluster, names, target.clock, target.say, self.back, parallel=target.parallel,
                              known=self._known(), allowed=target.put_back_rollout_timeout)
            if self.back:
                self._wait(target, self.back, target.put_back_timeout, self.restore)
            names = [r.service for r in self.back.values() if r.finished_first] if attempt == 0 else []
        self._read_images(target)
        failed = [r for r in self.back.values() if not r.ok]
        if failed:
            raise DeployError("services not put back: " + "; ".join(
                f"{r.service} {r.state}" + (f" - {r.reason}" if r.reason else "") for r in failed)
            ) from next((r.error for r in failed if expired_at(r.error)), None)
        self.put_back_done = True

    def _known(self) -> dict[str, Service]:
        return {name: service for name, service in self.services.items() if service is not None}

    def _wait(self, target: Target, rollouts: dict[str, Rollout], timeout: float, expect: Expectation | None) -> None:
        rollout.wait(target.cluster, rollouts, target.clock, timeout=timeout, interval=target.interval,
                     say=target.say, expect=expect, env_name=target.env.name)

    def _stop_in_flight(self, target: Target, in_flight: list[Rollout]) -> list[str]:
        """Ask ECS to roll back each deployment still in flight, followed in `back`; those it refuses are returned,
        to be put back with a new deployment instead."""
        refused = []
        for ours in in_flight:
            target.say(f"    {ours.service}: its deployment is still in flight: stopping it with ROLLBACK, so ECS "
                       "returns it to the revision it ran before")
            try:
                target.cluster.stop_service_deployment(ours.tracked or "", subject=ours.service)
            except DeployError as err:
                target.say(f"    {ours.service}: ECS did not stop it ({err}); a new deployment puts it back instead")
                refused.append(ours.service)
                continue
            service = self.services.get(ours.service)
            self.back[ours.service] = Rollout(
                ours.service, ours.deployment_id, ours.started_at, running=ours.running, desired=ours.desired,
                task_definition=ours.task_definition, strategy=ours.strategy, tracked=ours.tracked, undoing=True,
                allowed=target.put_back_rollout_timeout(service) if service is not None else None)
        return refused

    def _roll_back_ongoing(self, target: Target, names: list[str]) -> list[str]:
        """For `fab rollback`: each service whose deployment ECS is still working on is rolled back in place (a new
        deployment on top would only supersede it); the services that then run the rollback's image are done.
        Returns the services that still need a new deployment."""
        cluster = target.cluster
        ongoing: list[Rollout] = []
        for name in names:
            try:
                found = cluster.service_deployments(name, statuses=("PENDING", "IN_PROGRESS"))
            except DeployError as err:
                if not_offered(err):
                    cluster.deployments_api = False
                    return names
                raise
            if found:
                service = self.services.get(name)
                ongoing.append(Rollout(name, service.primary.id if service and service.primary else None,
                                       found[0][2] or target.clock.now(), tracked=found[0][0],
                                       strategy=service.strategy if service else "ROLLING"))
        if not ongoing:
            return names
        refused = self._stop_in_flight(target, ongoing)
        stopped = {name: self.back.pop(name) for name in list(self.back)}
        self._wait(target, stopped, target.put_back_timeout, None)  # ECS's rollback target may be another image
        done = [name for name, r in stopped.items() if r.ok and r.images is not None
                and (self.expect is None or rollout.runs_only(r.images, self.expect.digest, r.desired))]
        self.rollouts.update((name, stopped[name]) for name in done)
        for name in done:
            target.say(f"    {name}: ECS rolled its deployment in flight back; it runs the rollback's image")
        return [name for name in names if name not in done or name in refused]

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
        pending = [r for r in self.rollouts.values()
                   if r.ongoing and not (r.service in self.back and self.back[r.service].ok)]
        stops = [r.stop_command(target.env.cluster) for r in pending if r.in_flight and r.service not in self.back]
        names = [r.service for r in pending if not (r.in_flight and r.service not in self.back)]
        if not names:
            return stops
        flags = " ".join(f"--service {name}" for name in names)
        return [*stops, f"fab restart --env {target.env.name} {flags}   # once the release tag is back"]

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
