"""`fab deploy`: the whole release - preflight, retag, migrate, restart and wait, then notify."""

from invoke import task

from ._runtime import BREAK_LOCK_HELP, RECORD_HELP, boundary, changing, run_plan, say, seconds, settings


@task(
    help={
        "sha": "git commit id of the build (7-40 hex characters)",
        "env": "environment to deploy to, as named under deploy.environments",
        "tag": "image tag CI pushed to ECR (default: the sha)",
        "timeout": "seconds the migration and the rollout may each take (default: deploy.timeout)",
        "break-lock": BREAK_LOCK_HELP,
        "record": RECORD_HELP,
    }
)
def deploy(c, sha, env, tag=None, timeout=None, break_lock=False, record=None):
    """Deploy a CI-built image: move the release tag, migrate, restart services and wait for them."""
    with boundary():
        from .core.config import check_release_source, check_sha
        config = settings(c)
        environment = config.environment(env)
        sha = check_sha(sha)
        tag = check_release_source(tag or sha, environment)
        limit = seconds(timeout)
        from .core import planner
        from .core.checks import run_checks
        from .core.steps.notify import Notify

        # it may wait for the migration, the rollout and the smoke check, and after a failure for the rollout back
        with changing(c, environment, task="deploy", record=record, sha=sha, timeout=limit, break_lock=break_lock,
                      waits=2, put_back=True, smoke=True, notify=True) as target:
            preflight = run_checks(target)
            plan = planner.deploy(target, sha=sha, tag=tag, preflight=preflight, sleuth=config.sleuth)
            intro = [f"Deploying {sha} ({environment.repository}:{tag}) to {environment.name}", *plan.notices,
                     "==> preflight", *preflight.lines()]
            took = run_plan(c, target, plan, intro)
            if took is None:
                return
            for line in planner.summary(target, plan, took, what=f"deployed {sha} to {environment.name}"):
                say(line)
            for line in plan.step(Notify).report():  # the last lines: the Sleuth registration, or the warning
                say(line)
