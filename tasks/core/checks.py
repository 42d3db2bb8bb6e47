"""The preflight checklist: everything a release needs, read and judged, nothing changed.

Assumptions: a retag and restart only change what runs when every service's task definition names
`repository:release_tag` (a task definition pinned to a digest or another tag silently ignores the
retag), so that is checked, not assumed. Nor does a forced new deployment deploy every service: only the
ECS deployment controller's rolling deployments are what this tool starts and follows, so a service that
CodeDeploy or an external controller deploys, or that ECS deploys blue/green, linear or canary, is refused;
settings that change how a rollout ends (no circuit breaker, CloudWatch alarms, no tasks) are said as
warnings and notes under the item. `fab check` prints the list and fails on any failed item; `deploy` and
`rollback` run the same list before they change anything, and `restart` the deployment item, without the
Sleuth item: a missing Sleuth setting is not worth refusing a release for, and their notify step says it
once, at the end. Nor do they ask the smoke check's URL: before a deploy or a rollback, what runs may
rightly be what fails it; `fab check` asks it once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .clock import duration, span
from .config import SleuthSettings
from .credentials import known_lifetime, lifetime_warning
from .ecr import Image, reference_repository, reference_tag
from .ecs import Service, TaskDefinition, arn_name
from .errors import DeployError
from .fanout import fan_out
from .service_deployments import strategy_seconds

if TYPE_CHECKING:
    from .target import Target

@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    warnings: tuple[str, ...] = ()  # what may go wrong, said under the item without failing it
    notes: tuple[str, ...] = ()  # what will go otherwise than a person may expect

    def lines(self) -> list[str]:
        return [f"  [{'ok  ' if self.ok else 'FAIL'}] {self.name}: {self.detail}",
                *(f"  [warn] {line}" for line in self.warnings), *(f"  [note] {line}" for line in self.notes)]


def _attempt(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except DeployError as err:
        return Check(name, False, str(err))


@dataclass(frozen=True)
class Preflight:
    checks: list[Check]
    services: dict[str, Service]  # as read by the checks, so the plan does not read them again
    releases: dict[str, Image | None] = field(default_factory=dict)  # the release tag's image, where it was read

    def lines(self) -> list[str]:
        return [line for c in self.checks for line in c.lines()]

    def require(self) -> None:
        """Raise when a check failed, naming each."""
        failed = [c for c in self.checks if not c.ok]
        if failed:
            raise DeployError("preflight failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed))


def run_checks(target: Target, sleuth: SleuthSettings | None = None, *, smoke: bool = False) -> Preflight:
    """Every item, in the order a person would fix them; later items are skipped when their basis failed.

    `sleuth` None leaves the Sleuth settings out: a deploy's notify step says it once, at the end. `smoke`
    asks the environment's smoke check once, where it has one (only `fab check` does).
    """
    env = target.env
    checks = [_lasting(_attempt("credentials", lambda: _credentials(target)), target)]
    if not checks[0].ok:
        return Preflight(checks, {})  # nothing else can be read
    releases: dict[str, Image | None] = {}
    checks.append(_attempt("repository", lambda: _repository(target, releases)))
    services: dict[str, Service] = {}

    def read_services() -> str:
        services.update(target.cluster.services(env.services))
        return f"cluster {env.cluster}: " + ", ".join(f"{s.name} ({s.running}/{s.desired})" for s in services.values())

    checks.append(_attempt("cluster and services", read_services))
    if services:
        checks.append(deployments(target, services))
        definitions: dict[str, TaskDefinition] = {}

        def read_definitions() -> str:
            names = sorted({s.task_definition for s in services.values()})  # each read once, all at once
            read = dict(zip(names, fan_out(target.cluster.task_definition, names, target.parallel), strict=True))
            for service in services.values():
                definitions[service.name] = read[service.task_definition]
            if env.migrate and env.migrate.command:
                name = env.migrate.task_definition or services[env.services[0]].task_definition
                definitions["migration"] = target.cluster.task_definition(name)
                definitions["migration"].container(env.migrate.container)
            return ", ".join(f"{who} {td.label}" for who, td in definitions.items())

        checks.append(_attempt("task definitions", read_definitions))
        if definitions:
            checks.append(_attempt("log groups", lambda: _log_groups(target, definitions.values())))
            checks.append(_attempt("services run the release tag", lambda: _runs_release_tag(target, definitions)))
    if smoke and env.smoke is not None:
        checks.append(_attempt("smoke check", lambda: _smoke(target)))
    if sleuth is not None:
        checks.append(_attempt("sleuth", lambda: _sleuth(sleuth)))
    return Preflight(checks, services, releases)


def restart_checks(target: Target, services: dict[str, Service]) -> Preflight:
    """What a restart needs checked of services already read: that this tool can deploy them."""
    return Preflight([deployments(target, services)], services)


def deployments(target: Target, services: dict[str, Service]) -> Check:
    """Each service's deployment controller and configuration: refused where a forced new deployment is not how
    it deploys (another controller, an Express service ECS manages itself); otherwise each strategy is followed,
    and the time each rollout is allowed (its bake times counted) is said; warnings and notes where a rollout
    will end otherwise than a person may expect."""
    where = f"deploy.environments.{target.env.name}.services"
    refused, warnings, notes = [], [], []
    how: dict[str, list[str]] = {}  # how a service deploys and the time it is allowed -> those services
    for s in services.values():
        refusal = not_deployable(s)
        if refusal:
            refused.append(f"{refusal}, or take it out of {where}")
            continue
        allowed = target.rollout_timeout(s)
        needs = strategy_seconds(s.deployment_configuration)
        how.setdefault(_strategy(s, needs, allowed), []).append(s.name)
        if s.strategy not in STRATEGIES:
            warnings.append(f"{s.name} uses ECS's {s.strategy} deployment strategy, which this tool does not know: it "
                            "is followed by its service deployment's status, and no bake time is counted for it")
        if needs and target.timeout_given and target.timeout < needs:
            warnings.append(f"{s.name}'s {s.strategy} deployment bakes for {duration(needs)}, longer than --timeout "
                            f"{duration(target.timeout)}: the rollout will time out and be put back; give --timeout "
                            f"{duration(needs + target.env.timeout)} or leave it out")
        if not s.circuit_breaker:
            warnings.append(f"{s.name} has no deployment circuit breaker: a rollout whose tasks keep failing runs "
                            f"until the timeout ({duration(allowed)}) before it counts as failed and is put back; "
                            "turn the circuit breaker on for the service")
        if s.alarms and s.strategy == "ROLLING":
            bake = f" ({s.bake_minutes} min)" if s.bake_minutes is not None else " (ECS computes it from the alarms)"
            notes.append(f"{s.name}'s deployments are watched by CloudWatch alarms ({', '.join(s.alarms)}): ECS waits "
                         f"out a bake time{bake} after its new tasks are healthy before it calls a rollout COMPLETED; "
                         f"the timeout ({duration(allowed)}) must cover it")
        if s.desired == 0:
            notes.append(f"{s.name} has desiredCount 0: its restart completes at once and starts no task; the new "
                         "image runs once it is scaled up")
    if refused:
        return Check("deployments", False, "; ".join(refused))
    breakers = ", circuit breaker on" if all(s.circuit_breaker for s in services.values()) else ""
    said = "; ".join(f"{', '.join(names)}: {what}" for what, names in how.items())
    return Check("deployments", True, f"{said} (ECS controller){breakers}", tuple(warnings), tuple(notes))


STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")


def _strategy(service: Service, needs: float, allowed: float) -> str:
    """`BLUE_GREEN, bakes 15m00s, allowed 25m00s`: how a service deploys and the time its rollout is given."""
    if service.strategy == "ROLLING":
        return f"rolling, allowed {span(allowed)}"
    bakes = f", bakes {span(needs)}" if needs else ""
    return f"{service.strategy}{bakes}, allowed {span(allowed)}"


def not_deployable(s: Service) -> str | None:
    """Why a forced new deployment is not how `s` deploys, and what to do instead; None when the ECS controller
    deploys it (rolling, blue/green, linear or canary: each is followed by its service deployment)."""
    if s.deployment_controller != "ECS":
        return (f"{s.name} uses the {s.deployment_controller} deployment controller: "
                f"{_OTHER_CONTROLLERS.get(s.deployment_controller, _UNKNOWN_CONTROLLER)}")
    if s.managed_by == "ECS":
        return (f"{s.name} is an Express service (ECS manages its resources and deploys it itself): deploy it with "
                "`aws ecs update-express-gateway-service`")
    return None


# What to do instead, for a service that another deployment controller deploys.
_OTHER_CONTROLLERS = {
    "CODE_DEPLOY": "CodeDeploy replaces its tasks (blue/green), not a forced new deployment; deploy it with "
                   "CodeDeploy (`aws deploy create-deployment`)",
    "EXTERNAL": "its own deployment controller replaces its tasks through task sets, not a forced new deployment; "
                "deploy it with that controller",
}
_UNKNOWN_CONTROLLER = "a forced new deployment is not how it deploys; deploy it the way its controller does"


def _credentials(target: Target) -> str:
    identity = target.accounts.guard(target.env)
    expected = " (the environment's account)" if target.env.account else ""
    return f"{identity.arn}, account {identity.account}{expected}"


def _lasting(check: Check, target: Target) -> Check:
    """The credentials check, warned when they end before the deploy's worst case (migration, rollouts, put-back,
    each at its timeout) would: an expiry mid-rollout leaves the put-back to be finished by hand."""
    env = target.env
    worst = target.timeout * (2 if env.migrate and env.migrate.command else 1) + target.put_back_timeout
    warning = lifetime_warning(known_lifetime(), target.clock.now(), worst) if check.ok else None
    return replace(check, warnings=(*check.warnings, warning)) if warning else check


def _repository(target: Target, releases: dict[str, Image | None]) -> str:
    env = target.env
    if not target.registry.tag_is_mutable(env.release_tag):
        raise DeployError(
            f"{env.repository} exists but {env.release_tag} is an immutable tag there: the release tag must move"
        )
    current = releases[env.release_tag] = target.registry.find(env.release_tag)
    where = f"now {current.short_digest}" if current else "not pushed yet: the first deploy creates it"
    return f"{env.repository} exists; {env.release_tag} is mutable ({where})"


def _log_groups(target: Target, definitions: Iterable[TaskDefinition]) -> str:
    groups = sorted({c.log.group for td in definitions for c in td.containers if c.log})
    missing = [g for g in groups if not target.logs.group_exists(g)]
    if missing:
        raise DeployError(f"log group(s) {', '.join(missing)} do not exist: create them or fix the task definitions")
    return ", ".join(groups) if groups else "no container logs with awslogs"


def _runs_release_tag(target: Target, definitions: dict[str, TaskDefinition]) -> str:
    env = target.env
    wrong: list[str] = []
    for who, td in definitions.items():
        images = [c.image for c in td.containers if reference_repository(c.image) == env.repository]
        if not images:
            wrong.append(f"{who} ({td.label}) runs no {env.repository} image")
        for image in images:
            if reference_tag(image) != env.release_tag:
                wrong.append(f"{who} ({td.label}) runs {arn_name(image)}")
    if wrong:
        raise DeployError(
            "; ".join(wrong) + f": a retag and restart would change nothing there; make the task definition use "
            f"{env.repository}:{env.release_tag}"
        )
    return f"all run {env.repository}:{env.release_tag}"


def _smoke(target: Target) -> str:
    from .smoke import Probe

    probe = Probe.prepare(target.env)
    answer = probe.ask()
    if answer.status != probe.settings.expect:
        raise DeployError(f"GET {probe.settings.url} answered {answer}, not {probe.settings.expect}: a deploy "
                          f"would fail its smoke check unless the new version answers {probe.settings.expect} within "
                          f"{duration(probe.settings.timeout)}")
    return f"GET {probe.settings.url} answered {answer}"


def _sleuth(settings: SleuthSettings) -> str:
    from .sleuth import missing_settings, not_configured, token_from_env

    missing = missing_settings(settings, token_from_env())
    if missing:
        raise DeployError(not_configured(missing) + "; deploys will not be registered")
    return f"{settings.url} org {settings.org}, deployment {settings.deployment}; token set"
