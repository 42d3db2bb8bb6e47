"""Every task's plan, built here and nowhere else: every read it needs, done up front, then the steps that would
change things (a dry run renders them, a real run executes them: executor.py).

Assumptions: the environment's services run `repository:release_tag`, so moving that tag and forcing a new
deployment is what puts a new image in front of users (ECS resolves a tag to a digest per deployment).
Before the release tag moves, the digest it named is recorded in ECR as `<release_tag>-previous`, so a
rollback from any machine can find it. A dry run renders the plan after all of these reads, so it catches a
missing image, service or permission without changing anything. Where the environment has a smoke check, it
follows the restart, and the variables its headers name are read while planning: a missing one is refused
before any change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import migration
from .checks import Preflight, restart_checks
from .commits import check_commit, commit_from_tags
from .config import Environment, SleuthSettings
from .ecr import Image, Registry
from .ecs import Service
from .errors import DeployError
from .notifier import plan_lines
from .plan import Plan
from .rollout import Expectation
from .smoke import Probe
from .steps import Step
from .steps.migrate import Migrate
from .steps.notify import Notify
from .steps.restart import Restart
from .steps.retag import Retag
from .steps.smoke import Smoke
from .target import Target


def deploy(
    target: Target,
    *,
    sha: str,
    tag: str,
    preflight: Preflight | None = None,
    command: Sequence[str] | None = None,
    sleuth: SleuthSettings | None = None,
) -> Plan:
    """Retag, migrate, restart, the smoke check where the environment has one, and (given `sleuth`) notify. With
    a `preflight`, any failed check stops the deploy here."""
    env = target.env
    if preflight is not None:
        preflight.require()
    check = smoke(target)
    move = _retag(target, tag, preflight.releases if preflight else {})
    # the sha is what Sleuth is told was deployed: the image's own tags must not name another commit
    detail = target.registry.describe(move.source.digest)
    notice = check_commit(sha, detail.tags if detail else ())
    services = _services(target, preflight)
    restart = _restart(target, services, expect=Expectation(env.repository, move.source.digest),
                       restore=Expectation(env.repository, move.current.digest) if move.current else None)
    steps: list[Step] = [move, _migrate(target, services, command), restart]
    if check is not None:
        steps.append(check)
    if sleuth is not None:
        steps.append(notify_step(env, sleuth, sha=sha, tag=tag, registry=target.registry))
    return Plan(
        title=f"deploy {sha} ({env.repository}:{tag}) to {env.name}",
        steps=steps,
        facts=[*_facts(target, move.source, services), *plan_lines(env.notify)],
        preflight=preflight.lines() if preflight else [],
        put_back_hint=_rollback_hint(target, move),
        notices=[notice] if notice else [],
    )


def rollback(target: Target, preflight: Preflight | None = None, sleuth: SleuthSettings | None = None) -> Plan:
    """Move the release tag back to `<release_tag>-previous`, restart, run the smoke check where the environment
    has one, and (given `sleuth`, and where the previous image's tags name its commit) notify; no migration (the
    app's own job).

    A rollback that fails (its smoke check included) is put back like a deploy: the release tag and the
    services return to the image they ran before the rollback started.
    """
    env = target.env
    if preflight is not None:
        preflight.require()
    check = smoke(target)
    previous = target.registry.find(env.previous_tag)
    if previous is None:
        raise DeployError(
            f"no previous image to roll back to: {env.repository}:{env.previous_tag} does not exist (it is recorded "
            f"when a deploy moves {env.release_tag}); deploy a known-good sha instead: fab deploy --sha ... "
            f"--env {env.name}"
        )
    current = target.registry.find(env.release_tag)
    if current is not None and current.digest == previous.digest:
        raise DeployError(
            f"nothing to roll back: {env.repository}:{env.release_tag} already points at the previous image "
            f"{previous.short_digest}; deploy a known-good sha instead: fab deploy --sha ... --env {env.name}"
        )
    services = _services(target, preflight)
    restart = _restart(target, services, expect=Expectation(env.repository, previous.digest),
                       restore=Expectation(env.repository, current.digest) if current else None, stop_ongoing=True)
    move = Retag(env, previous, current, record_previous=False)
    steps: list[Step] = [move, restart]
    if check is not None:
        steps.append(check)
    commit = commit_of(target, previous)
    if sleuth is not None and commit is not None:
        steps.append(notify_step(env, sleuth, sha=commit[0], tag=commit[1], registry=target.registry))
    return Plan(
        title=f"roll back {env.name} to {env.repository}:{env.previous_tag}",
        steps=steps,
        facts=["no migration runs: reversing a migration is the application's own job",
               *_facts(target, previous, services), *plan_lines(env.notify)],
        preflight=preflight.lines() if preflight else [],
    )


def retag(target: Target, tag: str) -> Plan:
    """Move the release tag to `tag`'s image (recording the old one as `-previous`); no restart."""
    step = _retag(target, tag)
    return Plan(title=f"retag {target.env.repository}:{target.env.release_tag} for {target.env.name}", steps=[step])


def migrate(target: Target, command: Sequence[str]) -> Plan:
    """The migration on the image the release tag names now, with the first service's network settings."""
    env = target.env
    image = release_image(target)
    step = _migrate(target, target.cluster.services(env.services[:1]), command)
    step.image = image
    return Plan(title=f"migrate {env.name}", steps=[step],
                facts=[f"image: {env.repository}:{env.release_tag} = {image.digest}"])


def restart(target: Target, only: Sequence[str] = ()) -> Plan:
    """A restart of the named services (default: all) on the image the release tag names now; refused where the
    preflight's deployments item fails."""
    env = target.env
    unknown = [s for s in only if s not in env.services]
    if unknown:
        raise DeployError(
            f"unknown service {', '.join(unknown)} for environment {env.name!r}: its services are "
            f"{', '.join(env.services)}"
        )
    image = target.registry.find(env.release_tag)
    services = target.cluster.services(list(only) or list(env.services))
    preflight = restart_checks(target, services)
    preflight.require()
    step = _restart(target, services, expect=Expectation(env.repository, image.digest) if image else None,
                    restore=None)
    return Plan(title=f"restart {', '.join(services)} in {env.name}", steps=[step], preflight=preflight.lines())


def notify(env: Environment, sleuth: SleuthSettings, *, sha: str, tag: str,
           registry: Callable[[], Registry] | None = None) -> Plan:
    """A registration with Sleuth on its own (`fab notify`); `registry` gives the image's console link."""
    step = Notify.prepare(env, sleuth, sha=sha, tag=tag, registry=registry)
    return Plan(title=f"register {sha} with Sleuth as a deploy to {env.name}", steps=[step])


def notify_step(env: Environment, sleuth: SleuthSettings, *, sha: str, tag: str, registry: Registry) -> Notify:
    return Notify.prepare(env, sleuth, sha=sha, tag=tag, registry=lambda: registry)


def _retag(target: Target, tag: str, read: dict[str, Image | None] | None = None) -> Retag:
    """The retag step; `read` holds what the preflight already read of the release tag, which is not read again."""
    env = target.env
    if not target.registry.tag_is_mutable(env.release_tag):
        raise DeployError(
            f"ECR repository {env.repository} has IMMUTABLE tags, so {env.release_tag} cannot move: make it MUTABLE "
            "and push each build under its own unique tag"
        )
    source = target.registry.require(tag)
    read = read or {}
    current = read[env.release_tag] if env.release_tag in read else target.registry.find(env.release_tag)
    previous = target.registry.find(env.previous_tag) if current is not None else None
    return Retag(env=env, source=source, current=current, previous=previous)


def _restart(target: Target, services: dict[str, Service], *, expect: Expectation | None,
             restore: Expectation | None, stop_ongoing: bool = False) -> Restart:
    """The restart step, each service given the time its strategy needs (Target.rollout_timeout)."""
    return Restart(services, expect=expect, restore=restore, stop_ongoing=stop_ongoing,
                   allowed={name: target.rollout_timeout(service) for name, service in services.items()})


def _migrate(target: Target, services: dict[str, Service], command: Sequence[str] | None = None) -> Migrate:
    env = target.env
    command = command or (env.migrate.command if env.migrate else None)
    if not command:
        return Migrate(env, None)
    return Migrate(env, migration.resolve(env, target.cluster, services, command))


def smoke(target: Target) -> Smoke | None:
    """The environment's smoke check, its header values read from the environment now (before any change)."""
    if target.env.smoke is None:
        return None
    return Smoke(Probe.prepare(target.env), interval=target.interval)


def _services(target: Target, preflight: Preflight | None) -> dict[str, Service]:
    if preflight is not None and preflight.services:
        return preflight.services
    return target.cluster.services(target.env.services)


def _rollback_hint(target: Target, move: Retag) -> str | None:
    """`fab rollback` puts a deploy back at once while `-previous` names the image the release tag left."""
    if move.current is None or move.unchanged:
        return None
    return (f"fab rollback --env {target.env.name}   (release tag back to {target.env.previous_tag} = "
            f"{move.current.short_digest}, every service restarted)")


def commit_of(target: Target, image: Image) -> tuple[str, str] | None:
    """(sha, tag) of the commit an image was built from, read from the tags CI pushed it under (commits.py)."""
    detail = target.registry.describe(image.digest)
    return commit_from_tags(detail.tags if detail else ())


def release_image(target: Target) -> Image:
    """The image the release tag names now; an error when there is none yet."""
    image = target.registry.find(target.env.release_tag)
    if image is None:
        raise DeployError(
            f"{target.env.repository}:{target.env.release_tag} does not exist yet: deploy first (fab deploy --sha ... "
            f"--env {target.env.name})"
        )
    return image


def _facts(target: Target, image: Image, services: dict[str, Service]) -> list[str]:
    names = ", ".join(f"{s.name} ({s.running}/{s.desired})" for s in services.values())
    return [
        f"image: {target.env.repository}:{image.tag} = {image.digest}",
        f"cluster: {target.env.cluster}; services: {names}",
    ]


def summary(target: Target, plan: Plan, seconds: float, *, what: str) -> list[str]:
    """The lines of a run that succeeded: what now runs, checked, one line per service, and how long it took."""
    from .clock import duration

    env = target.env
    move, restart = plan.step(Retag), plan.step(Restart)
    verdict = (f"verified: every service runs {move.source.short_digest}" if restart.verified
               else "NOT verified: see each service below")
    checked = [step.report() for step in plan.steps if isinstance(step, Smoke)]
    return [f"{what} in {duration(seconds)}: {env.repository}:{env.release_tag} = {move.source.digest} "
            f"(tag {move.source.tag}); {verdict}", *restart.report(), *checked]
