"""`fab notify`: register a deploy with Sleuth on its own (`fab deploy` does it as its last step).

With --tag, the image is looked up in ECR for a console link in the registration; that lookup is only nice
to have, so when it fails (no credentials, ECR unreachable, no such image) notify says so and registers
anyway. Without --tag there is no AWS call at all: registering needs only Sleuth and the token.
"""

from invoke import task

from . import _runtime
from ._runtime import boundary, is_dry, quick_registry, say, settings, show_plan
from .core.errors import DeployError


@task(
    help={
        "sha": "git commit id that was deployed (7-40 hex characters)",
        "env": "environment it was deployed to, as named under deploy.environments",
        "tag": "image tag that was deployed (default: the sha); given, ECR is asked for the image's console link",
    }
)
def notify(c, sha, env, tag=None):
    """Register a deploy with Sleuth (token from SLEUTH_API_TOKEN); fab deploy does this itself."""
    with boundary():
        from .core.config import check_sha, check_tag
        config = settings(c)
        environment = config.environment(env)
        sha = check_sha(sha)
        if tag:
            check_tag(tag)
        from .core import planner
        from .core.steps.notify import Notify

        registry = (lambda: quick_registry(environment)) if tag else None
        plan = planner.notify(environment, config.sleuth, sha=sha, tag=tag or sha, registry=registry)
        step = plan.step(Notify)
        if step.registration is None:
            raise DeployError(step.missing[0])
        if step.link_problem:
            say(f"note: the registration goes without the ECR image link: {step.link_problem}")
        if is_dry(c):
            show_plan(plan.render())
            return
        step.send(_runtime.make_clock(), say)  # looked up at call time: tests replace it
        if step.problem:
            raise DeployError(f"not registered with Sleuth: {step.problem}")
        say(step.report()[0])

