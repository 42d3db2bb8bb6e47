"""PAUSE lifecycle hooks: the deployments that wait for a person to decide, and the decision.

Assumptions (ECS): a PAUSE hook holds its deployment in its lifecycle stage until `ContinueServiceDeployment`
names the deployment and the hook with CONTINUE or ROLLBACK, or until the hook's timeout applies its
`timeoutAction`. The deployments that can wait are the ongoing ones (PENDING or IN_PROGRESS). Deciding takes no
deploy lock: the deploy that started the deployment holds it while it waits on exactly this decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import DeployError
from .service_deployments import Hook, ServiceDeployment, not_offered

if TYPE_CHECKING:
    from .target import Target


@dataclass(frozen=True)
class Paused:
    service: str
    deployment: ServiceDeployment
    hook: Hook

    def line(self) -> str:
        expiry = f", expires {self.hook.expires_at:%Y-%m-%d %H:%M:%S %Z}".rstrip() if self.hook.expires_at else ""
        then = f" (then ECS will {self.hook.timeout_action})" if self.hook.timeout_action else ""
        return (f"{self.service}: deployment {self.deployment.arn.rsplit('/', 1)[-1]} waits at PAUSE hook "
                f"{self.hook.hook_id} in {self.deployment.stage or 'no stage'}{expiry}{then}")


def paused(target: Target, services: Sequence[str]) -> list[Paused]:
    """Every PAUSE hook awaiting a decision in the named services' ongoing deployments."""
    cluster = target.cluster
    try:
        ongoing = {name: [arn for arn, _, _ in cluster.service_deployments(name, statuses=("PENDING", "IN_PROGRESS"))]
                   for name in services}
        arns = [arn for found in ongoing.values() for arn in found]
        described = cluster.describe_service_deployments(arns) if arns else {}
    except DeployError as err:
        if not_offered(err):
            raise DeployError(f"ECS here does not offer service deployments ({getattr(err, 'code', '')}), so "
                              "there is no lifecycle hook to continue") from None
        raise
    return [Paused(name, described[arn], hook) for name, found in ongoing.items() for arn in found
            if arn in described for hook in described[arn].paused]


def decide(target: Target, only: Sequence[str], *, rollback: bool, dry: bool) -> list[str]:
    """CONTINUE (or ROLLBACK) every PAUSE hook that waits in the named services (default: all); the lines to say.
    Nothing waiting is an error that says where each deployment is instead."""
    env = target.env
    unknown = [s for s in only if s not in env.services]
    if unknown:
        raise DeployError(f"unknown service {', '.join(unknown)} for environment {env.name!r}: its services are "
                          f"{', '.join(env.services)}")
    names = list(only) or list(env.services)
    waiting = paused(target, names)
    if not waiting:
        raise DeployError(f"no deployment of {', '.join(names)} in {env.name} waits at a PAUSE hook: nothing to "
                          f"decide; fab status --env {env.name} shows where each deployment is")
    action = "ROLLBACK" if rollback else "CONTINUE"
    lines = []
    for pause in waiting:
        if dry:
            lines.append(f"DRY RUN - would {action} {pause.line()}")
            continue
        target.cluster.continue_service_deployment(pause.deployment.arn, pause.hook.hook_id, action)
        lines.append(f"{action}: {pause.line()}")
    if not dry:
        lines.append(f"ECS goes on from there; follow it with: fab status --env {env.name}")
    return lines
