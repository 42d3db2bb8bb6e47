"""A release as a plan: steps computed after every read, then shown (dry run) or executed.

Assumptions: the environment's services run `repository:release_tag`, so moving that tag and forcing a new
deployment is what puts a new image in front of users (ECS resolves a tag to a digest per deployment).
Before the release tag moves, the digest it named is recorded in ECR as `<release_tag>-previous`, so a
rollback from any machine can find it. When a step after the retag fails, the release tag is put back
where it was (or removed again, on a first deploy) before the error is reported, and the output says what
state each service is in. A notification never turns a deploy red: its failure is a warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import migration, rollout
from .aws import Clients
from .checks import Preflight
from .clock import Clock
from .config import Environment
from .ecr import Image, Registry, short
from .ecs import Cluster, Service, Task
from .errors import DeployError, Interrupted
from .logs import LogStream

Say = Callable[[str], None]


@dataclass
class Context:
    """What steps run with: the environment, its gateways, the clock and where output goes."""

    env: Environment
    clients: Clients
    registry: Registry
    cluster: Cluster
    open_stream: migration.StreamFactory
    clock: Clock
    say: Say
    timeout: float
    interval: float

    @classmethod
    def connect(
        cls, env: Environment, clients: Clients, clock: Clock, say: Say, timeout: float | None = None
    ) -> Context:
        return cls(
            env=env,
            clients=clients,
            registry=Registry(clients.ecr, env.repository),
            cluster=Cluster(clients.ecs, env.cluster),
            open_stream=lambda group, stream: LogStream(clients.logs, group, stream),
            clock=clock,
            say=say,
            timeout=float(timeout) if timeout else env.timeout,
            interval=env.poll_interval,
        )


class Step(Protocol):
    name: str

    def describe(self) -> list[str]: ...

    def run(self, ctx: Context) -> None: ...


@dataclass
class Retag:
    """Move the release tag to `source`, recording where it pointed as `<release_tag>-previous`.

    Undoing it puts both tags back, so a failed deploy leaves `-previous` on the true previous image.
    """

    env: Environment
    source: Image
    current: Image | None
    previous: Image | None = None  # where `-previous` pointed before this run
    name: str = "retag"
    record_previous: bool = True  # a rollback moves back to -previous and leaves it as it is
    moved: bool = False
    recorded: bool = False

    @property
    def unchanged(self) -> bool:
        return self.current is not None and self.current.digest == self.source.digest

    def describe(self) -> list[str]:
        tag, repo = self.env.release_tag, self.env.repository
        if self.unchanged:
            return [f"{repo}:{tag} already points at {self.source.short_digest} ({self.source.tag}): nothing to move"]
        lines = [f"move {repo}:{tag} {short(self.current and self.current.digest)} -> {self.source.short_digest} "
                 f"({self.source.tag})"]
        if self.current is None:
            lines.append(f"first deploy: {repo}:{tag} does not exist yet, so there is no previous image to record")
        elif self.record_previous:
            lines.append(f"record {self.current.short_digest} as {repo}:{self.env.previous_tag}")
        return lines

    def run(self, ctx: Context) -> None:
        for line in self.describe():
            ctx.say(f"    {line}")
        if self.unchanged:
            return
        if self.current is not None and self.record_previous:
            self.recorded = True  # set before the move: a failure half-way must still be undone
            ctx.registry.point(self.env.previous_tag, self.current)
        self.moved = True
        ctx.registry.point(self.env.release_tag, self.source)

    def undo(self, ctx: Context) -> str:
        """Put the release tag (and `-previous`) back; return what was done, in a sentence."""
        done = []
        tag = f"{self.env.repository}:{self.env.release_tag}"
        if self.moved and self.current is None:
            ctx.registry.remove(self.env.release_tag)
            done.append(f"{tag} removed again (this was its first deploy)")
        elif self.moved:
            ctx.registry.point(self.env.release_tag, self.current)
            done.append(f"{tag} restored to {self.current.short_digest}")
        if self.recorded:
            if self.previous is None:
                ctx.registry.remove(self.env.previous_tag)
                done.append(f"{self.env.previous_tag} removed again")
            else:
                ctx.registry.point(self.env.previous_tag, self.previous)
                done.append(f"{self.env.previous_tag} restored to {self.previous.short_digest}")
        return "; ".join(done) or f"{self.env.release_tag} was not moved"


@dataclass
class Migrate:
    """Run the migration task, or say why there is none."""

    env: Environment
    spec: migration.MigrationSpec | None
    name: str = "migrate"
    task: Task | None = None
    result: migration.MigrationResult | None = None

    def describe(self) -> list[str]:
        if self.spec is None:
            return [f"skipped: no migrate.command configured for environment {self.env.name!r}"]
        return self.spec.describe()

    def run(self, ctx: Context) -> None:
        if self.spec is None:
            ctx.say(f"    {self.describe()[0]}")
            return
        ctx.say(f"    {self.spec.describe()[0]}")
        self.task = migration.start(self.spec, ctx.cluster, say=ctx.say)
        self.result = migration.follow(
            self.spec, self.task, ctx.cluster, ctx.open_stream, ctx.clock,
            timeout=ctx.timeout, interval=ctx.interval, say=ctx.say,
        )
        ctx.say(f"    migration exited 0 after {self.result.seconds:.0f}s")


@dataclass
class Restart:
    """Force a new deployment of each service at once and wait for every rollout to finish."""

    services: dict[str, Service]
    name: str = "restart"
    rollouts: dict[str, rollout.Rollout] = field(default_factory=dict)

    def describe(self) -> list[str]:
        lines = []
        for service in self.services.values():
            primary = service.primary
            td = (primary.task_definition if primary else service.task_definition).rsplit("/", 1)[-1]
            running = f"{service.running}/{service.desired} running"
            lines.append(f"force a new deployment of {service.name} ({td}, {running})")
        return lines

    def run(self, ctx: Context) -> None:
        rollout.start(ctx.cluster, list(self.services), ctx.clock, ctx.say, self.rollouts)
        rollout.wait(ctx.cluster, self.rollouts, ctx.clock, timeout=ctx.timeout, interval=ctx.interval, say=ctx.say)
        failed = [r for r in self.rollouts.values() if not r.ok]
        if failed:
            for line in rollout.explain(self.rollouts):
                ctx.say(line)
            raise DeployError("; ".join(f"{r.service} {r.state}" + (f" - {r.reason}" if r.reason else "")
                                        for r in failed))

    def states(self) -> str:
        return ", ".join(f"{r.service} {r.state} {r.running}/{r.desired}" for r in self.rollouts.values())


@dataclass
class Plan:
    """What a task will change, in order. `render` for a dry run, `execute` for a real one."""

    title: str
    steps: list[Any]
    facts: list[str] = field(default_factory=list)
    preflight: list[str] = field(default_factory=list)

    def render(self) -> list[str]:
        lines = [f"DRY RUN - {self.title}; nothing will be changed.", *self.facts]
        if self.preflight:
            lines += ["Preflight:", *self.preflight]
        lines.append("Plan:")
        for number, step in enumerate(self.steps, 1):
            details = step.describe()
            lines.append(f"  {number}. {step.name}: {details[0] if details else ''}")
            lines.extend(f"     {line}" for line in details[1:])
        return lines

    def execute(self, ctx: Context) -> None:
        """Run each step; on a failure undo the retag, say what state everything is in, and re-raise.

        Ctrl-C undoes nothing (the operator chose to stop, and ECS carries on regardless): it says what
        was changed, what still runs, and the commands that finish or undo it.
        """
        done: list[Any] = []
        for step in self.steps:
            ctx.say(f"==> {step.name}")
            try:
                step.run(ctx)
            except KeyboardInterrupt:
                for line in self._interrupted(ctx, step, done):
                    ctx.say(line)
                raise Interrupted(
                    f"stopped during {step.name}; see above for what changed and what still runs in ECS"
                ) from None
            except Exception as err:
                for line in self._aftermath(ctx, step, done):
                    ctx.say(line)
                if isinstance(err, DeployError):
                    raise DeployError(f"{step.name} failed: {err}") from err
                raise
            done.append(step)

    def _interrupted(self, ctx: Context, current: Any, done: Sequence[Any]) -> list[str]:
        env = ctx.env
        lines = [f"==> interrupted during {current.name}; nothing was undone. State now:"]
        retag = next((s for s in [*done, current] if isinstance(s, Retag)), None)
        if retag is not None and retag.moved:
            was = retag.current.short_digest if retag.current else "nothing (first deploy)"
            lines.append(f"  release tag: {env.repository}:{env.release_tag} -> {retag.source.short_digest} "
                         f"(was {was})")
        elif retag is current:
            lines.append(f"  release tag: {env.repository}:{env.release_tag} may have moved: check with "
                         f"fab status --env {env.name}")
        if isinstance(current, Migrate) and current.task is not None:
            lines.append(f"  migration task {current.task.id} is still running in ECS; watch it in the console or "
                         f"stop it: {migration.stop_command(env.cluster, current.task.id)}")
        restart = current if isinstance(current, Restart) else None
        if restart is not None:
            for r in restart.rollouts.values():
                still = " - the rollout continues in ECS" if not r.done else ""
                lines.append(f"  service {r.line()}{still}")
            if restart.rollouts:
                lines.append(f"  to follow the rollouts: fab status --env {env.name}")
        remaining = [s.name for s in self.steps[self.steps.index(current) + 1:]]
        if remaining:
            lines.append(f"  not started: {', '.join(remaining)}")
        if retag is not None and retag.moved and retag.current is not None:
            lines.append(f"  to undo: fab rollback --env {env.name}")
        return lines

    def _aftermath(self, ctx: Context, failed: Any, done: Sequence[Any]) -> list[str]:
        lines = [f"==> {failed.name} failed; state now:"]
        for step in reversed([*done, failed]):
            undo = getattr(step, "undo", None)
            if undo is None:
                continue
            try:
                lines.append(f"  release tag: {undo(ctx)}")
            except Exception as err:  # the undo itself failed: the operator must act, so say exactly what
                was = step.current.digest if step.current is not None else "no image (first deploy)"
                lines.append(
                    f"  release tag: NOT put back ({err}). {ctx.env.repository}:{ctx.env.release_tag} must point at "
                    f"{was}: find that image's own tag with `aws ecr describe-images --repository-name "
                    f"{ctx.env.repository}`, then run fab retag --env {ctx.env.name} --tag <that tag>"
                )
        restart = next((s for s in [*done, failed] if isinstance(s, Restart)), None)
        if restart is not None and restart.rollouts:
            for r in restart.rollouts.values():
                note = "" if r.state != rollout.COMPLETED else " (runs the new image; `fab restart` puts it back)"
                lines.append(f"  service {r.line()}{note}")
            if any(r.ok for r in restart.rollouts.values()):
                names = " ".join(f"--service {r.service}" for r in restart.rollouts.values() if r.ok)
                lines.append(
                    f"  to put those services back on the restored image: fab restart --env {ctx.env.name} {names}"
                )
        else:
            services = ", ".join(ctx.env.services)
            lines.append(f"  services not restarted: {services} still run what they ran before")
        return lines


def prepare_deploy(
    ctx: Context,
    *,
    sha: str,
    tag: str,
    preflight: Preflight | None = None,
    command: Sequence[str] | None = None,
    notify: Any | None = None,
) -> Plan:
    """Every read a deploy needs, then the plan: retag, migrate, restart (and notify).

    With a `preflight`, any failed check stops the deploy here, before anything changes.
    """
    env = ctx.env
    if preflight is not None:
        preflight.require()
    retag = prepare_retag(ctx, tag)
    services = preflight.services if preflight and preflight.services else ctx.cluster.services(env.services)
    steps: list[Any] = [retag, prepare_migrate(ctx, services, command), Restart(services)]
    if notify is not None:
        steps.append(notify)
    return Plan(
        title=f"deploy {sha} ({env.repository}:{tag}) to {env.name}",
        steps=steps,
        facts=_facts(ctx, retag.source, services),
        preflight=preflight.lines() if preflight else [],
    )


def prepare_rollback(ctx: Context, preflight: Preflight | None = None, notify: Any | None = None) -> Plan:
    """Move the release tag back to `<release_tag>-previous` and restart; no migration (the app's own job)."""
    env = ctx.env
    if preflight is not None:
        preflight.require()
    previous = ctx.registry.find(env.previous_tag)
    if previous is None:
        raise DeployError(
            f"no previous image to roll back to: {env.repository}:{env.previous_tag} does not exist (it is recorded "
            f"when a deploy moves {env.release_tag}); deploy a known-good sha instead: fab deploy --sha ... "
            f"--env {env.name}"
        )
    current = ctx.registry.find(env.release_tag)
    if current is not None and current.digest == previous.digest:
        raise DeployError(
            f"nothing to roll back: {env.repository}:{env.release_tag} already points at the previous image "
            f"{previous.short_digest}; deploy a known-good sha instead: fab deploy --sha ... --env {env.name}"
        )
    services = preflight.services if preflight and preflight.services else ctx.cluster.services(env.services)
    steps: list[Any] = [Retag(env, previous, current, record_previous=False), Restart(services)]
    if notify is not None:
        steps.append(notify)
    return Plan(
        title=f"roll back {env.name} to {env.repository}:{env.previous_tag}",
        steps=steps,
        facts=["no migration runs: reversing a migration is the application's own job",
               *_facts(ctx, previous, services)],
        preflight=preflight.lines() if preflight else [],
    )


def prepare_retag(ctx: Context, tag: str) -> Retag:
    env = ctx.env
    if not ctx.registry.tag_is_mutable(env.release_tag):
        raise DeployError(
            f"ECR repository {env.repository} has IMMUTABLE tags, so {env.release_tag} cannot move: make it MUTABLE "
            "and push each build under its own unique tag"
        )
    source = ctx.registry.require(tag)
    current = ctx.registry.find(env.release_tag)
    previous = ctx.registry.find(env.previous_tag) if current is not None else None
    return Retag(env=env, source=source, current=current, previous=previous)


def prepare_migrate(ctx: Context, services: dict[str, Service], command: Sequence[str] | None = None) -> Migrate:
    env = ctx.env
    command = command or (env.migrate.command if env.migrate else None)
    if not command:
        return Migrate(env, None)
    return Migrate(env, migration.resolve(env, ctx.cluster, services, command))


def prepare_restart(ctx: Context, only: Sequence[str] = ()) -> Restart:
    env = ctx.env
    unknown = [s for s in only if s not in env.services]
    if unknown:
        raise DeployError(
            f"unknown service {', '.join(unknown)} for environment {env.name!r}: its services are "
            f"{', '.join(env.services)}"
        )
    return Restart(ctx.cluster.services(list(only) or list(env.services)))


_BUILD_TAG = re.compile(r"^\d{8}\.\d{6}-(?P<sha>[0-9a-f]{7,40})$")
_SHA_TAG = re.compile(r"^[0-9a-f]{7,40}$")


def commit_of(ctx: Context, image: Image) -> tuple[str, str] | None:
    """(sha, tag) of the commit an image was built from, read from the tags CI pushed it under.

    The full sha tag wins; else a short-sha tag or the build tag `YYYYMMDD.HHMMSS-<sha>`; None when the
    image carries neither.
    """
    detail = ctx.registry.describe(image.digest)
    tags = detail.tags if detail else ()
    candidates = sorted(((len(t), t, t) for t in tags if _SHA_TAG.match(t)), reverse=True)
    candidates += [(len(m["sha"]), m["sha"], t) for t in tags if (m := _BUILD_TAG.match(t))]
    if not candidates:
        return None
    _, sha, tag = max(candidates)
    return sha, tag


def release_image(ctx: Context) -> Image:
    """The image the release tag names now; an error when there is none yet."""
    image = ctx.registry.find(ctx.env.release_tag)
    if image is None:
        raise DeployError(
            f"{ctx.env.repository}:{ctx.env.release_tag} does not exist yet: deploy first (fab deploy --sha ... "
            f"--env {ctx.env.name})"
        )
    return image


def _facts(ctx: Context, image: Image, services: dict[str, Service]) -> list[str]:
    names = ", ".join(f"{s.name} ({s.running}/{s.desired})" for s in services.values())
    return [
        f"image: {ctx.env.repository}:{image.tag} = {image.digest}",
        f"cluster: {ctx.env.cluster}; services: {names}",
    ]


def summary(ctx: Context, plan: Plan, *, sha: str, tag: str) -> str:
    """The last line of a successful deploy."""
    retag = next(s for s in plan.steps if isinstance(s, Retag))
    restart = next(s for s in plan.steps if isinstance(s, Restart))
    return (
        f"deployed {sha} to {ctx.env.name}: {ctx.env.repository}:{ctx.env.release_tag} = {retag.source.digest} "
        f"(tag {tag}); {restart.states()}"
    )
